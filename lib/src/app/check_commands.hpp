// The check commands of ocirelayd, which read and report and start nothing:
// `--check-config` beyond the schema (the TLS files load as start-up would
// load them, and with --connect the database answers) and `storage check`
// (a storage file or the PostgreSQL database, read-only).
//
// Plain functions, called on the main thread before any daemon runs.
#pragma once

#include <string>
#include <vector>

#include "ocirelay/app/command_line.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::app {

// Loads every TLS file the configuration names the way start-up will, so that
// --check-config catches a key that does not match its certificate or a file
// that is not PEM. One message per problem, naming the file and key path.
std::vector<std::string> check_tls_files(const config::Config& c);

// `storage check`: the storage file named by --storage, or by storage.path of
// the --config file, or the PostgreSQL database of storage.postgresql of the
// --config file, checked read-only. The report goes to stdout; returns the
// exit code.
int storage_check(const CommandLine& cl, const std::string& program);

// `--check-config --connect`, once the configuration is valid: with
// storage.backend postgresql, connects and reports the server version and
// the schema state on stdout (kExitOk), or why the database cannot be used on
// stderr (kExitStorage: unreachable, or a schema newer than this build). The
// URL is never printed. With sqlite there is nothing to reach: kExitOk.
// `file` names the configuration in the messages.
int check_storage_connection(const config::Config& c, const std::string& file);

}  // namespace ocirelay::app
