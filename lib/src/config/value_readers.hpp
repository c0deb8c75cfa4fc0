// Readers of single configuration values that several sections share: file
// paths, and the names of destinations and routes with what the
// cross-reference checks need of them.
//
// Pure functions over one SchemaWalker, plus reads of the file system; no
// thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_node.hpp"
#include "config/field_table.hpp"
#include "config/schema_walker.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

// A path to a file that must be readable (TLS material, CA certificates),
// `what` naming it in messages ("TLS certificate"). When not `required`, an
// empty value keeps the default (empty: the system trust store, no client
// certificate).
void read_file(SchemaWalker& w, const ConfigNode& value, const std::string& path,
               std::string& out, std::string_view what, bool required);

// An OCI principal: `instance`, `api_key`, or `none` when `none_ok`
// (oci.principal; a destination's auth.principal names one).
void read_oci_principal(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                        OciPrincipal& out, bool none_ok);

// HTTP Basic credentials: `username` and `password`, both required (the
// ingress's `server.auth.basic` items, a destination's `auth:` of type basic).
inline constexpr auto kCredentialFields = fields<BasicCredential>({
    {"username",
     [](auto& w, auto& value, auto& path, BasicCredential& out) {
       if (auto user = w.text(value, path)) {
         if (user->empty()) {
           w.error(value, path, "must not be empty");
         } else if (user->find(':') != std::string::npos) {
           w.error(value, path, "must not contain ':' (Basic authentication cannot carry it)");
         } else {
           out.username = std::move(*user);
         }
       }
     },
     Presence::required},
    {"password",
     [](auto& w, auto& value, auto& path, BasicCredential& out) {
       if (auto pass = w.text(value, path)) {
         if (pass->empty()) {
           w.error(value, path, "must not be empty");
         } else {
           out.password = std::move(*pass);
         }
       }
     },
     Presence::required},
});

// A configured name (destination or route) with where it was written, for the
// cross-reference checks.
struct NameRef {
  std::string name;  // resolved
  const ConfigNode* node = nullptr;
  std::string path;
};

// A destination or route name: used in logs, metrics and storage, so kept to
// 1 to 128 letters, digits, '.', '_' and '-'. Stored in `out`, and returned
// with where it was written; nullopt (and an error) when it is not valid.
std::optional<NameRef> read_name(SchemaWalker& w, const ConfigNode& value,
                                 const std::string& path, std::string& out);

// The `name` row of a destination's or route's table: reads `out.name` and
// records where it was written in `out.name_ref`.
inline constexpr auto name_field = [](SchemaWalker& w, const ConfigNode& value,
                                      const std::string& path, auto& out) {
  out.name_ref = read_name(w, value, path, out.name);
};

// Reports every name given twice (`what`: "destination", "route").
void check_unique(SchemaWalker& w, const std::vector<NameRef>& names, std::string_view what);

}  // namespace ocirelay::config::detail
