// The check commands of ocirelayd, which read and report and start nothing:
// `--check-config` beyond the schema (the TLS files load as start-up would
// load them) and `storage check` (a storage file, read-only).
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
// the --config file, checked read-only. The report goes to stdout; returns
// the exit code.
int storage_check(const CommandLine& cl, const std::string& program);

}  // namespace ocirelay::app
