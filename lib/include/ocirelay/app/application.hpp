// The daemon assembled: logging, storage, routing, ingress server and one
// dispatcher per destination, on one io_context run by the main thread, with
// the storage worker on its own thread.
//
// Thread and lifetime contract: create() and run() are called on the main
// thread. run() returns after a graceful shutdown (SIGTERM or SIGINT): stop
// accepting, answer requests in flight, let deliveries in flight finish
// within server.shutdown_timeout (a second signal: at once), abort the rest,
// which stays queued, join every coroutine, close storage.
#pragma once

#include <memory>
#include <string>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::app {

// Exit codes of ocirelayd.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure
inline constexpr int kExitUsage = 2;    // command line or configuration invalid
inline constexpr int kExitStorage = 3;  // storage cannot be opened (or checked)
// SIGTERM or SIGINT: the shutdown could not complete cleanly (a component did
// not stop after being aborted, or the queue state could not be saved). A
// clean shutdown exits kExitOk, even when deliveries were aborted: they stay
// queued.
inline constexpr int kExitShutdownIncomplete = 4;

// Why the daemon cannot start, and the exit code that says so.
struct StartError {
  StartError(std::string m, int code = kExitFailure)  // NOLINT(implicit): from messages
      : message(std::move(m)), exit_code(code) {}
  std::string message;
  int exit_code;
};

class Application {
 public:
  // Opens the log, the storage and the listener; nothing is left open when it
  // fails. The error names what failed and why; storage that cannot be
  // opened exits with kExitStorage.
  static Result<std::unique_ptr<Application>, StartError> create(config::Config config);
  ~Application();
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  // Serves until asked to stop; returns the process exit code.
  int run();

  class Impl;

 private:
  explicit Application(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The whole daemon: parses arguments, loads the configuration, runs. Returns
// the exit code. Writes usage and configuration errors to stderr.
int daemon_main(int argc, char** argv);

}  // namespace ocirelay::app
