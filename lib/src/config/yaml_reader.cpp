#include "config/yaml_reader.hpp"

#include <exception>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "config/tree_limits.hpp"

namespace ocirelay::config::detail {

namespace {

Mark to_mark(const YAML::Mark& m, Mark fallback) {
  if (m.line < 0 || m.column < 0) {
    return fallback;
  }
  return Mark{m.line + 1, m.column + 1};
}

// Converts one yaml-cpp node (recursively), counting nodes and depth so that a
// hostile document (deep nesting, alias bombs) is refused instead of crashing.
class YamlConverter {
 public:
  YamlConverter(const std::string& file, ConfigErrors& errors) : file_(file), errors_(errors) {}

  bool convert(const YAML::Node& in, Mark fallback, int depth, ConfigNode& out) {
    if (++count_ > kMaxConfigNodes) {
      error(fallback,
            "the document is too large (more than " + std::to_string(kMaxConfigNodes) + " values)");
      return false;
    }
    if (depth > kMaxConfigDepth) {
      error(fallback,
            "the document nests deeper than " + std::to_string(kMaxConfigDepth) + " levels");
      return false;
    }
    // yaml-cpp gives null values the position of whatever follows them; the
    // key's position is the useful one.
    out.mark = in.IsNull() ? fallback : to_mark(in.Mark(), fallback);
    switch (in.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = ConfigNode::Kind::null;
        return true;
      case YAML::NodeType::Scalar:
        out.kind = ConfigNode::Kind::scalar;
        out.text = in.Scalar();
        out.style = (in.Tag() == "!" || in.Tag() == "tag:yaml.org,2002:str")
                        ? ConfigNode::Style::quoted
                        : ConfigNode::Style::plain;
        return true;
      case YAML::NodeType::Sequence:
        out.kind = ConfigNode::Kind::sequence;
        for (const auto& item : in) {
          ConfigNode child;
          if (!convert(item, out.mark, depth + 1, child)) {
            return false;
          }
          out.items.push_back(std::move(child));
        }
        return true;
      case YAML::NodeType::Map:
        out.kind = ConfigNode::Kind::mapping;
        for (auto it = in.begin(); it != in.end(); ++it) {
          const Mark key_mark = to_mark(it->first.Mark(), out.mark);
          if (!it->first.IsScalar()) {
            error(key_mark, "a mapping key must be a plain string");
            return false;
          }
          ConfigNode child;
          if (!convert(it->second, key_mark, depth + 1, child)) {
            return false;
          }
          out.keys.push_back(it->first.Scalar());
          out.key_marks.push_back(key_mark);
          out.items.push_back(std::move(child));
        }
        return true;
    }
    return true;
  }

 private:
  void error(Mark at, std::string message) {
    errors_.push_back(ConfigError{file_, "", at.line, at.column, std::move(message)});
  }

  const std::string& file_;
  ConfigErrors& errors_;
  std::size_t count_ = 0;
};

}  // namespace

Result<ConfigNode, ConfigErrors> read_yaml(std::string_view text, const std::string& file) {
  ConfigErrors errors;
  try {
    const YAML::Node doc = YAML::Load(std::string(text));
    ConfigNode root;
    YamlConverter converter(file, errors);
    if (converter.convert(doc, Mark{1, 1}, 0, root)) {
      return root;
    }
  } catch (const YAML::Exception& e) {
    const Mark at = to_mark(e.mark, Mark{});
    errors.push_back(ConfigError{file, "", at.line, at.column, "YAML syntax error: " + e.msg});
  } catch (const std::exception& e) {
    errors.push_back(ConfigError{file, "", 0, 0, std::string("cannot parse YAML: ") + e.what()});
  }
  return fail(std::move(errors));
}

}  // namespace ocirelay::config::detail
