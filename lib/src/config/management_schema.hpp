// The `management:` section of the configuration, read by loader.cpp's
// build_config after `server:` (whose listen address it is checked against):
//
//   management:
//     listen: "127.0.0.1:8484"   # "" for none: the ingress port serves all
//     tls: { cert_file: ..., key_file: ... }   # as server.tls
//
// `listen` is read like server.listen; an empty string (after secret
// references are resolved) means no management listener. `tls` is read by the
// same function as server.tls (so the same checks apply), and needs a listener.
// A listen address that is server.listen's own (same port on the same or a
// wildcard host) is an error.
//
// Pure functions over one SchemaWalker; no thread affinity.
#pragma once

#include <optional>
#include <string>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "config/sections.hpp"  // read_server_tls, shared with server.tls
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

// `management:` of the configuration's `root` mapping, absent or not (the
// default listen address may clash with server.listen too); `ingress` is
// server.listen as already read.
void read_management(SchemaWalker& w, const ConfigNode& root, const ListenAddress& ingress,
                     Management& out);

// True when the two addresses cannot both be bound: the same non-zero port on
// the same host, or on any host when one of them is a wildcard (0.0.0.0, ::).
bool listen_addresses_clash(const ListenAddress& a, const ListenAddress& b);

}  // namespace ocirelay::config::detail
