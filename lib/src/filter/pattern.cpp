#include <string>
#include <string_view>
#include <utility>

#include "ocirelay/filter/condition.hpp"

namespace ocirelay::filter {

Pattern::Pattern(std::string text) : text_(std::move(text)), match_any_(text_ == "*") {
  std::string_view rest = text_;
  for (;;) {
    const auto star = rest.find('*');
    parts_.emplace_back(rest.substr(0, star));
    if (star == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(star + 1);
  }
}

// Split-at-star matching: the first part must be a prefix, the last part a
// suffix (not overlapping the prefix), and the parts between must occur in
// order in what remains. Taking the leftmost occurrence of each middle part is
// always safe, so there is no backtracking: O(value x pattern) at worst.
bool Pattern::matches(std::string_view value) const noexcept {
  if (match_any_) {
    return true;
  }
  if (parts_.size() == 1) {
    return value == parts_.front();
  }
  const std::string& head = parts_.front();
  const std::string& tail = parts_.back();
  if (value.size() < head.size() + tail.size() || !value.starts_with(head) ||
      !value.ends_with(tail)) {
    return false;
  }
  std::string_view middle = value.substr(head.size(), value.size() - head.size() - tail.size());
  for (std::size_t i = 1; i + 1 < parts_.size(); ++i) {
    const std::string& part = parts_[i];
    if (part.empty()) {
      continue;
    }
    const auto at = middle.find(part);
    if (at == std::string_view::npos) {
      return false;
    }
    middle.remove_prefix(at + part.size());
  }
  return true;
}

}  // namespace ocirelay::filter
