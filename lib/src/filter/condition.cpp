#include "ocirelay/filter/condition.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace ocirelay::filter {

struct Condition::Node {
  struct Member {
    std::string key;
    // A nested condition object (AND), or else the patterns of a value or an
    // array of values (OR).
    std::unique_ptr<const Node> nested;
    std::vector<Pattern> patterns;
  };
  std::vector<Member> members;
};

namespace {

// Conditions nest like events; deeper than this is surely a mistake, and the
// limit keeps compile() and matches() from recursing without bound.
constexpr unsigned kMaxConditionDepth = 64;

// Room for any 64-bit integer or shortest round-trip double.
using NumberBuffer = std::array<char, 40>;

// The text of a JSON number as the filter compares it: integers in decimal,
// doubles with an integral value (5.0) as that integer, other doubles in the
// shortest form that reads back as the same double (0.5, 1e+300). The same
// function formats condition values and event values, so 5, 5.0 and 5e0 are
// all "5" on both sides. Non-finite doubles have no text.
std::optional<std::string_view> number_text(const rapidjson::Value& value, NumberBuffer& buf) {
  char* const first = buf.data();
  char* const last = buf.data() + buf.size();
  std::to_chars_result r{};
  if (value.IsUint64()) {
    r = std::to_chars(first, last, value.GetUint64());
  } else if (value.IsInt64()) {
    r = std::to_chars(first, last, value.GetInt64());
  } else {
    const double d = value.GetDouble();
    if (!std::isfinite(d)) {
      return std::nullopt;
    }
    // 2^63: every integral double below it converts to int64 exactly.
    if (std::trunc(d) == d && std::fabs(d) < 9223372036854775808.0) {
      r = std::to_chars(first, last, static_cast<std::int64_t>(d));
    } else {
      r = std::to_chars(first, last, d);
    }
  }
  if (r.ec != std::errc()) {
    return std::nullopt;
  }
  return std::string_view(first, static_cast<std::size_t>(r.ptr - first));
}

// The text of a string, number or boolean; nothing for null, objects, arrays.
std::optional<std::string_view> scalar_text(const rapidjson::Value& value, NumberBuffer& buf) {
  if (value.IsString()) {
    return std::string_view(value.GetString(), value.GetStringLength());
  }
  if (value.IsBool()) {
    return value.GetBool() ? std::string_view("true") : std::string_view("false");
  }
  if (value.IsNumber()) {
    return number_text(value, buf);
  }
  return std::nullopt;
}

bool is_scalar(const rapidjson::Value& value) {
  return value.IsString() || value.IsBool() || value.IsNumber();
}

std::string at(const std::string& path, std::string_view message) {
  if (path.empty()) {
    return std::string(message);
  }
  std::string error = path;
  error += ": ";
  error += message;
  return error;
}

// Compiles one scalar condition value into a pattern. Returns the error, if any.
std::optional<std::string> compile_scalar(const rapidjson::Value& value, const std::string& path,
                                          std::vector<Pattern>& out) {
  NumberBuffer buf;
  const auto text = scalar_text(value, buf);
  if (!text) {
    if (value.IsNumber()) {
      return at(path, "must be a finite number");
    }
    return at(path, "must be a string, number or boolean");
  }
  out.emplace_back(std::string(*text));
  return std::nullopt;
}

std::optional<std::string> compile_object(const rapidjson::Value& object, const std::string& path,
                                          unsigned depth, Condition::Node& out);

std::optional<std::string> compile_member_value(const rapidjson::Value& value,
                                                const std::string& path, unsigned depth,
                                                Condition::Node::Member& out) {
  if (value.IsObject()) {
    auto nested = std::make_unique<Condition::Node>();
    if (auto error = compile_object(value, path, depth + 1, *nested)) {
      return error;
    }
    out.nested = std::move(nested);
    return std::nullopt;
  }
  if (value.IsArray()) {
    if (value.Empty()) {
      return at(path, "must not be an empty array (it would match nothing)");
    }
    out.patterns.reserve(value.Size());
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      const std::string element_path = path + "[" + std::to_string(i) + "]";
      if (!is_scalar(value[i])) {
        return at(element_path, "must be a string, number or boolean");
      }
      if (auto error = compile_scalar(value[i], element_path, out.patterns)) {
        return error;
      }
    }
    return std::nullopt;
  }
  if (value.IsNull()) {
    return at(path, "must not be null (use \"*\" to require any value)");
  }
  return compile_scalar(value, path, out.patterns);
}

std::optional<std::string> compile_object(const rapidjson::Value& object, const std::string& path,
                                          unsigned depth, Condition::Node& out) {
  if (depth > kMaxConditionDepth) {
    return at(path, "nested deeper than " + std::to_string(kMaxConditionDepth) + " levels");
  }
  out.members.reserve(object.MemberCount());
  for (auto it = object.MemberBegin(); it != object.MemberEnd(); ++it) {
    Condition::Node::Member member;
    member.key.assign(it->name.GetString(), it->name.GetStringLength());
    const std::string member_path = path.empty() ? member.key : path + "." + member.key;
    if (auto error = compile_member_value(it->value, member_path, depth, member)) {
      return error;
    }
    out.members.push_back(std::move(member));
  }
  return std::nullopt;
}

bool matches_patterns(const std::vector<Pattern>& patterns, const rapidjson::Value& value) {
  for (const Pattern& pattern : patterns) {
    if (pattern.matches_value(value)) {
      return true;
    }
  }
  return false;
}

bool matches_object(const Condition::Node& node, const rapidjson::Value& value) {
  if (!value.IsObject()) {
    return false;
  }
  for (const auto& member : node.members) {
    const auto it = value.FindMember(member.key);
    if (it == value.MemberEnd()) {
      return false;
    }
    const bool ok = member.nested ? matches_object(*member.nested, it->value)
                                  : matches_patterns(member.patterns, it->value);
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool Pattern::matches_value(const rapidjson::Value& value) const {
  if (value.IsNull()) {
    return false;
  }
  if (match_any_) {
    return true;
  }
  NumberBuffer buf;
  if (value.IsArray()) {
    for (const auto& element : value.GetArray()) {
      const auto text = scalar_text(element, buf);
      if (text && matches(*text)) {
        return true;
      }
    }
    return false;
  }
  const auto text = scalar_text(value, buf);
  return text && matches(*text);
}

Condition::Condition() : root_(std::make_shared<const Node>()) {}

Result<Condition> Condition::compile(const rapidjson::Value& condition) {
  if (!condition.IsObject()) {
    return fail("must be an object");
  }
  auto root = std::make_shared<Node>();
  if (auto error = compile_object(condition, std::string(), 1, *root)) {
    return fail(std::move(*error));
  }
  Condition compiled;
  compiled.root_ = std::move(root);
  return compiled;
}

bool Condition::matches(const rapidjson::Value& event) const {
  // A moved-from condition has no tree; it behaves like `{}`.
  return root_ ? matches_object(*root_, event) : event.IsObject();
}

}  // namespace ocirelay::filter
