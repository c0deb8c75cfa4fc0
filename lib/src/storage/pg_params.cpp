#include "storage/pg_params.hpp"

#include <utility>

namespace ocirelay::storage {

PgParams& PgParams::text(std::string value) {
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(0);
  values_.emplace_back(std::move(value));
  return *this;
}

PgParams& PgParams::int64(std::int64_t value) { return text(std::to_string(value)); }

PgParams& PgParams::bytes(std::string value) {
  lengths_.push_back(static_cast<int>(value.size()));
  formats_.push_back(1);
  values_.emplace_back(std::move(value));
  return *this;
}

PgParams& PgParams::null() {
  lengths_.push_back(0);
  formats_.push_back(0);
  values_.emplace_back(std::nullopt);
  return *this;
}

const char* const* PgParams::values() const {
  pointers_.clear();
  for (const auto& value : values_) {
    pointers_.push_back(value ? value->data() : nullptr);
  }
  return pointers_.data();
}

}  // namespace ocirelay::storage
