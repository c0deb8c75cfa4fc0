// The outbound parts of a destination's schema (issue #3, "Outbound auth" and
// "Payload shaping"), read by destinations_section.cpp:
//
//   auth:    { type: none | basic | oauth2, username, password,
//              token_url, client_id, client_secret, scope }
//   tls:     { ca_file, cert_file, key_file, verify }
//   headers: { Name: value, ... }
//   payload: raw | { fields: { name: "/json/pointer", ... } }
//
// Like the rest of the schema, every problem is reported with its key path and
// position, and no message quotes a resolved secret (header values and the
// client secret are never quoted at all).
//
// Pure functions over one SchemaWalker; no thread affinity.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

// `auth:` of a destination (node is the value, path its key path): its type,
// and the keys of that type; keys of another type are reported.
void read_destination_auth(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                           DestinationAuth& out);

// `tls:` of a destination (node is the value, path its key path).
void read_destination_tls(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                          DestinationTls& out);

// `headers:` of a destination.
void read_destination_headers(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                              std::vector<DestinationHeader>& out);

// `payload:` of a destination.
void read_destination_payload(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                              DestinationPayload& out);

// True when `name` is an HTTP field name (an RFC 9110 token).
bool is_http_token(std::string_view name) noexcept;

}  // namespace ocirelay::config::detail
