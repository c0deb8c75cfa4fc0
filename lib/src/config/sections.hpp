// The sections of the configuration file, each read by its own file with its
// keys declared once in a FieldTable (field_table.hpp):
//
//   server:        server_section.cpp
//   storage:       storage_section.cpp
//   log:           log_section.cpp
//   destinations:  destinations_section.cpp (auth, tls, headers and payload:
//                  outbound_schema.cpp)
//   routes:        routes_section.cpp
//   admin:         admin_schema.cpp
//   oci:           oci_section.cpp
//
// loader.cpp's table of top-level keys calls these. Each takes the section's
// value and key path and fills the section's struct, reporting every problem
// to the walker. Pure functions (plus reads of the file system); no thread
// affinity.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "config/value_readers.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

void read_server(SchemaWalker& w, const ConfigNode& value, const std::string& path, Server& out);

// The parts of `server:` any listener has: `listen` ("host:port") and `tls`
// (cert_file and key_file, both required and readable).
void read_listen(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                 ListenAddress& out);
void read_server_tls(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                     std::optional<ServerTls>& out);

void read_storage(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                  Storage& out);

void read_log(SchemaWalker& w, const ConfigNode& value, const std::string& path, Log& out);

// A sequence of destinations; each valid name is added to `names`.
void read_destinations(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                       std::vector<Destination>& out, std::vector<NameRef>& names);

// A sequence of routes; each valid name is added to `names`, and each
// destination a route sends to, to `destination_refs`.
void read_routes(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                 std::vector<Route>& out, std::vector<NameRef>& names,
                 std::vector<NameRef>& destination_refs);

// Reports each destination a route sends to that is not configured.
void check_route_destinations(SchemaWalker& w, const std::vector<NameRef>& destinations,
                              const std::vector<NameRef>& refs);

// `oci:` (the principal and its API key, the key file read and checked; the
// region, endpoints and CA file). Tells the walker the identity `${vault:}`
// references are read with: read it before any other section.
void read_oci(SchemaWalker& w, const ConfigNode& value, const std::string& path, Oci& out);

// Gives each destination with `auth: {type: oci_signature}` its principal
// (oci.principal when it names none) and that principal's key, reporting a
// destination whose principal is none or not configured. `root` is the whole
// document (for positions), `destinations` what was read from it.
void resolve_oci_destinations(SchemaWalker& w, const ConfigNode& root, const Oci& oci,
                              std::vector<Destination>& destinations);

}  // namespace ocirelay::config::detail
