#include "config/value_readers.hpp"

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

void read_oci_principal(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                        OciPrincipal& out, bool none_ok) {
  auto text = w.text(value, path);
  if (!text) return;
  if (*text == "api_key") {
    out = OciPrincipal::api_key;
  } else if (*text == "none" && none_ok) {
    out = OciPrincipal::none;
  } else if (*text == "instance") {
    out = OciPrincipal::instance;
  } else {
    w.error(value, path,
            "bad principal " + quote(value.text) + "; expected " +
                (none_ok ? "instance, api_key or none" : "instance or api_key"));
  }
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
