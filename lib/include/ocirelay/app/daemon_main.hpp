// The whole ocirelayd command: parses the arguments, then runs the daemon
// (Application), checks a configuration (--check-config) or checks a storage
// file (`storage check`). main() only adds the last-resort catch.
//
// Thread contract: called once, on the main thread.
#pragma once

namespace ocirelay::app {

// Returns the process exit code (exit_codes.hpp). Usage and configuration
// errors go to stderr, reports of the check commands to stdout.
int daemon_main(int argc, char** argv);

}  // namespace ocirelay::app
