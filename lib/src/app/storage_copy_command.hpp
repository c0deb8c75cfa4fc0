// `ocirelayd storage copy --from PATH --to-config FILE`: the SQLite backlog
// of a relay into the PostgreSQL database of a configuration
// (storage/storage_copy.hpp does the copy).
//
// A plain function, called on the main thread; no daemon runs.
#pragma once

#include <string>

#include "ocirelay/app/command_line.hpp"

namespace ocirelay::app {

// Loads --to-config (it must have storage.backend postgresql), copies, and
// prints the counts on stdout; returns the exit code: kExitOk, kExitUsage
// (invalid configuration, or not postgresql), kExitStorage (the file or the
// database cannot be opened, or the copy failed: nothing was copied).
int storage_copy(const CommandLine& cl, const std::string& program);

}  // namespace ocirelay::app
