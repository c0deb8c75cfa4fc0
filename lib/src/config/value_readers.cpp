#include "config/value_readers.hpp"

#include <charconv>
#include <limits>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace ocirelay::config::detail {

namespace {

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

}  // namespace

void read_file(SchemaWalker& w, const ConfigNode& value, const std::string& path,
               std::string& out, std::string_view what, bool required) {
  auto file = w.text(value, path);
  if (!file) {
    return;
  }
  if (file->empty() && !required) {
    return;
  }
  w.check_readable_file(value, path, *file, what);
  out = std::move(*file);
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return std::nullopt;
  std::uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc{}) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "B") mult = 1;
  else if (unit == "K" || unit == "KB" || unit == "KiB") mult = 1024;
  else if (unit == "M" || unit == "MB" || unit == "MiB") mult = 1024 * 1024;
  else if (unit == "G" || unit == "GB" || unit == "GiB") mult = 1024ull * 1024 * 1024;
  else return std::nullopt;
  if (n > std::numeric_limits<std::uint64_t>::max() / mult) return std::nullopt;
  return n * mult;
}

std::optional<NameRef> read_name(SchemaWalker& w, const ConfigNode& value,
                                 const std::string& path, std::string& out) {
  auto name = w.text(value, path);
  if (!name) {
    return std::nullopt;
  }
  if (!is_valid_name(*name)) {
    w.error(value, path,
            "bad name " + quote(value.text) + ": use 1 to 128 letters, digits, '.', '_' or '-'");
    return std::nullopt;
  }
  out = *name;
  return NameRef{std::move(*name), &value, path};
}

void check_unique(SchemaWalker& w, const std::vector<NameRef>& names, std::string_view what) {
  std::unordered_map<std::string, const NameRef*> seen;
  for (const NameRef& ref : names) {
    auto [it, inserted] = seen.emplace(ref.name, &ref);
    if (!inserted) {
      w.error(*ref.node, ref.path,
              "duplicate " + std::string(what) + " name " + quote(ref.node->text) +
                  " (already used by " + it->second->path + ")");
    }
  }
}

}  // namespace ocirelay::config::detail
