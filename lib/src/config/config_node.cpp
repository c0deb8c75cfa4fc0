#include "config/config_node.hpp"

namespace ocirelay::config::detail {

const ConfigNode* ConfigNode::find(std::string_view key) const noexcept {
  if (kind != Kind::mapping) {
    return nullptr;
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) {
      return &items[i];
    }
  }
  return nullptr;
}

Mark ConfigNode::key_mark(std::string_view key) const noexcept {
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] == key) {
      return key_marks[i];
    }
  }
  return mark;
}

std::string_view ConfigNode::describe() const noexcept {
  switch (kind) {
    case Kind::null:
      return "null";
    case Kind::sequence:
      return "a sequence";
    case Kind::mapping:
      return "a mapping";
    case Kind::scalar:
      break;
  }
  switch (style) {
    case Style::json_number:
      return "a number";
    case Style::json_bool:
      return "a boolean";
    case Style::plain:
    case Style::quoted:
      break;
  }
  return "a string";
}

}  // namespace ocirelay::config::detail
