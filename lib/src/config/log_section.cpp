// `log:`: level, format, the optional log file with its rotation, flushing.
#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "config/field_table.hpp"
#include "config/sections.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr auto kLogLevels =
    std::to_array<std::string_view>({"trace", "debug", "info", "warn", "error"});

constexpr auto kLogFields = fields<Log>({
    {"level",
     [](auto& w, auto& value, auto& path, Log& out) {
       if (auto text = w.text(value, path)) {
         if (std::find(kLogLevels.begin(), kLogLevels.end(), *text) == kLogLevels.end()) {
           w.error(value, path,
                   "bad log level " + quote(value.text) +
                       "; expected one of trace, debug, info, warn, error");
         } else {
           out.level = std::move(*text);
         }
       }
     }},
    {"file", text_field<&Log::file>},
    {"format",
     [](auto& w, auto& value, auto& path, Log& out) {
       if (auto text = w.text(value, path)) {
         if (*text == "text") {
           out.format = Log::Format::text;
         } else if (*text == "json") {
           out.format = Log::Format::json;
         } else {
           w.error(value, path,
                   "bad log format " + quote(value.text) + "; expected text or json");
         }
       }
     }},
    {"max_size", size_field<&Log::max_size>},
    {"max_files", integer_field<&Log::max_files, 1, 1000>},
    {"flush_interval", duration_field<&Log::flush_interval>},
});

}  // namespace

void read_log(SchemaWalker& w, const ConfigNode& value, const std::string& path, Log& out) {
  kLogFields.read(w, value, path, out);
}

}  // namespace ocirelay::config::detail
