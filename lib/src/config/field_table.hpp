// The keys of one mapping of the configuration, each declared once, together
// with the code that reads its value. The table reads the fields and also
// gives SchemaWalker::expect_mapping the allowed keys, so a key that is read
// is a key that is allowed, and an unknown-key message lists exactly these:
//
//   constexpr auto kStorageFields = fields<Storage>({
//       {"path", [](auto& w, auto& value, auto& path, Storage& out) { ... }},
//       {"dedupe_window", duration_field<&Storage::dedupe_window>},
//   });
//   kStorageFields.read(w, node, path, out);
//
// Adding a key to a section is one row in its table (and the member with its
// default in config.hpp). Fields are read in table order, which is also the
// order of the allowed keys in messages. A reader is called only when the key
// has a value (absent or null keeps the default); a required field reports
// "required key ... is missing" instead. A reader is a function, or a lambda
// without captures (its `auto&` parameters are the walker, the value and the
// key path); the *_field readers below cover the usual kinds of value.
//
// Tables are constant data; no thread affinity.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "ocirelay/common/duration.hpp"

namespace ocirelay::config::detail {

enum class Presence { optional, required };

// One key of a mapping. `T` is what the mapping is read into.
template <class T>
struct Field {
  // `value` is the node under the key (never absent or null), `path` the key
  // path ("server.max_body_bytes").
  using Reader = void (*)(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                          T& out);

  std::string_view key;
  Reader read = nullptr;
  Presence presence = Presence::optional;
};

template <class T, std::size_t N>
class FieldTable {
 public:
  constexpr explicit FieldTable(const std::array<Field<T>, N>& fields) : fields_(fields) {
    for (std::size_t i = 0; i < N; ++i) {
      keys_[i] = fields_[i].key;
    }
  }

  constexpr const std::array<std::string_view, N>& keys() const noexcept { return keys_; }

  // Checks that `node` is a mapping of these keys (SchemaWalker::expect_mapping);
  // false when it is not a mapping at all.
  bool expect(SchemaWalker& w, const ConfigNode& node, const std::string& path) const {
    return w.expect_mapping(node, path, keys_);
  }

  // Reads every field of the mapping `node` that has a value, in table order.
  void read_fields(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                   T& out) const {
    for (const Field<T>& field : fields_) {
      const ConfigNode* value = field.presence == Presence::required
                                    ? w.require(node, field.key, path)
                                    : SchemaWalker::get(node, field.key);
      if (value != nullptr) {
        field.read(w, *value, SchemaWalker::join(path, field.key), out);
      }
    }
  }

  // expect() then read_fields(); false when `node` is not a mapping.
  bool read(SchemaWalker& w, const ConfigNode& node, const std::string& path, T& out) const {
    if (!expect(w, node, path)) {
      return false;
    }
    read_fields(w, node, path, out);
    return true;
  }

 private:
  std::array<Field<T>, N> fields_;
  std::array<std::string_view, N> keys_{};
};

// A table from a braced list of fields: fields<Server>({{"listen", ...}, ...}).
template <class T, std::size_t N>
constexpr FieldTable<T, N> fields(const Field<T> (&list)[N]) {
  return FieldTable<T, N>(std::to_array(list));
}

// The keys of several tables, in order: the allowed keys of a mapping read in
// parts (a destination's `auth:`, whose keys depend on its type).
template <std::size_t... N>
constexpr auto concat_keys(const std::array<std::string_view, N>&... parts) {
  std::array<std::string_view, (N + ... + 0)> out{};
  std::size_t i = 0;
  ((std::copy(parts.begin(), parts.end(), out.begin() + static_cast<std::ptrdiff_t>(i)),
    i += parts.size()),
   ...);
  return out;
}

// Stores what a SchemaWalker read returned, when it returned a value (on
// error it has been reported and `out` keeps its default).
template <class Out, class Value>
void assign(Out& out, std::optional<Value>&& value) {
  if (value) {
    out = static_cast<Out>(std::move(*value));
  }
}

// --- readers of the usual kinds of value, into a member of the table's struct
//
//   {"max_files", integer_field<&Log::max_files, 1, 1000>},
//   {"ons", mapping_field<&Server::ons, kOnsFields>},

// A string, secret references resolved.
template <auto Member>
inline constexpr auto text_field = [](SchemaWalker& w, const ConfigNode& value,
                                      const std::string& path, auto& out) {
  assign(out.*Member, w.text(value, path));
};

// true or false.
template <auto Member>
inline constexpr auto bool_field = [](SchemaWalker& w, const ConfigNode& value,
                                      const std::string& path, auto& out) {
  assign(out.*Member, w.boolean(value, path));
};

// A whole number in [Min, Max].
template <auto Member, std::uint64_t Min, std::uint64_t Max>
inline constexpr auto integer_field = [](SchemaWalker& w, const ConfigNode& value,
                                         const std::string& path, auto& out) {
  assign(out.*Member, w.integer(value, path, Min, Max));
};

// A duration ("30s") of at least MinMs milliseconds (1: greater than 0).
template <auto Member, std::int64_t MinMs = 0>
inline constexpr auto duration_field = [](SchemaWalker& w, const ConfigNode& value,
                                          const std::string& path, auto& out) {
  assign(out.*Member, w.duration(value, path, Duration(MinMs)));
};

// A size in bytes ("1048576", "64MiB"; common/size.hpp).
template <auto Member>
inline constexpr auto size_field = [](SchemaWalker& w, const ConfigNode& value,
                                      const std::string& path, auto& out) {
  assign(out.*Member, w.size(value, path));
};

// A value read by the function `Read(w, value, path, member)`.
template <auto Member, auto Read>
inline constexpr auto member_field = [](SchemaWalker& w, const ConfigNode& value,
                                        const std::string& path, auto& out) {
  Read(w, value, path, out.*Member);
};

// A mapping read by another table.
template <auto Member, const auto& Table>
inline constexpr auto mapping_field = [](SchemaWalker& w, const ConfigNode& value,
                                         const std::string& path, auto& out) {
  Table.read(w, value, path, out.*Member);
};

}  // namespace ocirelay::config::detail
