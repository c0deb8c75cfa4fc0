// `storage:`: the SQLite queue file, the duplicate-detection window, and the
// space it may use (reserve, max_size).
#include <cstdint>
#include <utility>

#include "config/field_table.hpp"
#include "config/sections.hpp"

namespace ocirelay::config::detail {

namespace {

// The smallest storage.max_size: the schema, some events and room for
// delivery bookkeeping.
constexpr std::uint64_t kMinStorageMaxSize = 1024 * 1024;

constexpr auto kStorageFields = fields<Storage>({
    {"path",
     [](auto& w, auto& value, auto& path, Storage& out) {
       if (auto file = w.text(value, path)) {
         if (file->empty()) {
           w.error(value, path, "must not be empty");
         } else {
           out.path = std::move(*file);
         }
       }
     }},
    {"dedupe_window", duration_field<&Storage::dedupe_window>},
    {"reserve", size_field<&Storage::reserve>},
    {"max_size",
     [](auto& w, auto& value, auto& path, Storage& out) {
       if (auto bytes = w.size(value, path)) {
         if (*bytes != 0 && *bytes < kMinStorageMaxSize) {
           w.error(value, path,
                   "bad size " + quote(value.text) +
                       ": a quota below 1MiB leaves no room for events and delivery bookkeeping; "
                       "give at least 1MiB, or 0 for no quota");
         } else {
           out.max_size = *bytes;
         }
       }
     }},
});

}  // namespace

void read_storage(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                  Storage& out) {
  kStorageFields.read(w, value, path, out);
}

}  // namespace ocirelay::config::detail
