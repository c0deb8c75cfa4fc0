// A compiled OCI Events rule condition (PROTOCOLS.md, "rule conditions").
//
// Semantics, exactly OCI Events':
//  - the condition is a JSON object shaped like the event; `{}` matches all;
//  - every key named must be present in the event at the same nesting and
//    match (AND);
//  - an array of values matches when any of them matches (OR);
//  - `*` is a wildcard anywhere in a value (never in keys); a value of just
//    "*" matches any present, non-null value (including objects and arrays);
//  - scalar event values (strings, numbers, booleans) are compared as text;
//    an event array matches when any element matches;
//  - a nested object in the condition requires an object in the event.
//
// Immutable after compile; safe to share read-only between threads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "ocirelay/common/result.hpp"

namespace ocirelay::filter {

// A value pattern with `*` wildcards. Case-sensitive.
class Pattern {
 public:
  explicit Pattern(std::string text);
  bool matches(std::string_view value) const noexcept;
  // Matches an event value with condition semantics: strings, numbers and
  // booleans by their text (integers as integers: 5 -> "5", true -> "true"),
  // an array when any of its scalar elements matches; "*" also matches any
  // object or array; null never matches.
  bool matches_value(const rapidjson::Value& value) const;
  bool is_match_any() const noexcept { return match_any_; }
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
  std::vector<std::string> parts_;  // text split at '*'
  bool match_any_ = false;          // the pattern is exactly "*"
};

class Condition {
 public:
  // The condition `{}`: matches every event.
  Condition();

  // Compiles a condition. Errors name the key path inside the condition
  // ("data.additionalDetails.bucketName[1]: must be a string, number or
  // boolean") so the config loader can prefix its own path.
  static Result<Condition> compile(const rapidjson::Value& condition);

  bool matches(const rapidjson::Value& event) const;

  struct Node;  // defined in the implementation

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace ocirelay::filter
