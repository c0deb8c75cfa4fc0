// PgParams: the parameters of one libpq command, in order ($1, $2, ...):
// text, integers (sent as text) and bytea (sent as binary, byte for byte).
//
// Thread and lifetime contract: a value type, one thread at a time; the
// arrays it hands to PQexecParams stay valid until it is changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ocirelay::storage {

class PgParams {
 public:
  PgParams& text(std::string value);
  PgParams& int64(std::int64_t value);
  PgParams& bytes(std::string value);  // bytea, sent as binary
  PgParams& null();

  int size() const noexcept { return static_cast<int>(values_.size()); }
  // The arrays PQexecParams takes; valid until the next change.
  const char* const* values() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::optional<std::string>> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  mutable std::vector<const char*> pointers_;
};

}  // namespace ocirelay::storage
