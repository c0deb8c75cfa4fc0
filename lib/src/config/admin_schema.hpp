// The `admin:` section of the configuration (issue #3, "Dead letters and
// replay"), read by loader.cpp's table of sections, and on its own by ocirelayctl:
//
//   admin:
//     socket: /run/ocirelay/admin.sock
//
// The socket path must fit a Unix socket address (at most 107 bytes), and its
// directory must exist or be creatable (the daemon creates it, mode 0750).
// A file already there must be a socket (a stale one is replaced at start).
//
// Pure functions over one SchemaWalker, plus reads of the file system; no
// thread affinity.
#pragma once

#include <optional>
#include <string>

#include "config/config_node.hpp"
#include "config/schema_walker.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

// `admin:` (node is the value, path its key path, "admin").
void read_admin(SchemaWalker& w, const ConfigNode& node, const std::string& path, Admin& out);

// Reads only the `admin:` section of the configuration file `path` (YAML, or
// JSON for *.json): what ocirelayctl needs to find the daemon. The rest of the
// file is neither validated nor resolved, so an operator who may not read the
// daemon's secrets or TLS keys can still use it. nullopt when the file has no
// `admin:` section.
Result<std::optional<Admin>, ConfigErrors> load_admin_section(
    const std::string& path, const SecretSources& secrets = default_secret_sources());

}  // namespace ocirelay::config::detail
