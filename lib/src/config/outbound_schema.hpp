// The outbound parts of a destination's schema (issue #3, "Outbound auth" and
// "Payload shaping"), read by loader.cpp's read_destination:
//
//   auth:    { type: oauth2, token_url, client_id, client_secret, scope }
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

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

// The keys of `auth:` used only by type: oauth2.
inline constexpr std::array<std::string_view, 4> kOAuth2AuthKeys{"token_url", "client_id",
                                                                 "client_secret", "scope"};

// The oauth2 keys of an `auth:` mapping whose type is oauth2 (type itself is
// read by the caller). Also reports username/password, which belong to basic.
void read_oauth2_auth(SchemaWalker& w, const ConfigNode& auth, const std::string& path,
                      DestinationAuth& out);

// Reports every oauth2-only key present in an `auth:` of another type
// (`type_name`: "basic" or "none").
void reject_oauth2_keys(SchemaWalker& w, const ConfigNode& auth, const std::string& path,
                        std::string_view type_name);

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
