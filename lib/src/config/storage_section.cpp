// `storage:`: the SQLite queue file and the duplicate-detection window.
#include <utility>

#include "config/field_table.hpp"
#include "config/sections.hpp"

namespace ocirelay::config::detail {

namespace {

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
});

}  // namespace

void read_storage(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                  Storage& out) {
  kStorageFields.read(w, value, path, out);
}

}  // namespace ocirelay::config::detail
