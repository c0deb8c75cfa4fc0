// The parsed configuration document before validation: a small tree of
// mappings, sequences and scalars, each with its position in the file. YAML and
// JSON are both read into it (yaml_reader.hpp, json_reader.hpp), so a single
// schema (sections.hpp) validates both formats.
//
// Plain value type; no thread affinity.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ocirelay::config::detail {

// 1-based position in the file; 0 when unknown.
struct Mark {
  int line = 0;
  int column = 0;
};

struct ConfigNode {
  enum class Kind { null, scalar, sequence, mapping };

  // How a scalar was written. YAML plain scalars may be read as numbers or
  // booleans; quoted scalars (YAML quoted, `!!str`, JSON strings) only as text.
  enum class Style { plain, quoted, json_number, json_bool };

  Kind kind = Kind::null;
  Style style = Style::plain;
  Mark mark;
  std::string text;  // scalars: the value as written (unquoted, unescaped)

  // Sequences: the items. Mappings: the values, parallel to keys/key_marks, in
  // file order (duplicates kept; lookups take the first).
  std::vector<ConfigNode> items;
  std::vector<std::string> keys;
  std::vector<Mark> key_marks;

  bool is_null() const noexcept { return kind == Kind::null; }
  bool is_scalar() const noexcept { return kind == Kind::scalar; }
  bool is_sequence() const noexcept { return kind == Kind::sequence; }
  bool is_mapping() const noexcept { return kind == Kind::mapping; }

  // The first value under `key` in a mapping, or nullptr.
  const ConfigNode* find(std::string_view key) const noexcept;
  // The position of the first `key` in a mapping (the node's own when absent).
  Mark key_mark(std::string_view key) const noexcept;

  // "a mapping", "a sequence", "a string", "a number", "a boolean", "null".
  std::string_view describe() const noexcept;
};

}  // namespace ocirelay::config::detail
