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

#include "ocirelay/app/exit_codes.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::app {

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

}  // namespace ocirelay::app
