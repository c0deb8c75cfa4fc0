// Runs the real ocirelayd binary as a child process on a configuration the
// test writes, with its stderr going to a log file in the test's directory.
// start() waits for the "listening on 127.0.0.1:PORT" line and reads the
// port from it (the tests listen on port 0); management_port() reads the
// management listener's from "management endpoint on 127.0.0.1:PORT". Both
// lines are start-up lines documented in docs/operations.md.
//
// Thread contract: used from the test thread only. The destructor kills a
// child that is still running (SIGKILL) and reaps it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

#include "ocirelay/common/duration.hpp"

namespace ocirelay::test {

std::string ocirelayd_path();

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string output;  // stdout and stderr
};

// Runs ocirelayd with these arguments to completion (for --check-config,
// --version, ...). Fails the test when it takes longer than `timeout`.
ProcessResult run_ocirelayd(const std::vector<std::string>& args,
                            Duration timeout = std::chrono::seconds(30),
                            const std::vector<std::string>& extra_env = {});

class DaemonProcess {
 public:
  struct Options {
    std::string config_file;
    std::string log_file;                      // stderr and stdout go here
    std::vector<std::string> extra_env;        // "NAME=value"
    std::optional<std::uint64_t> file_size_limit;  // RLIMIT_FSIZE, bytes
    std::optional<std::uint64_t> open_files_limit;  // RLIMIT_NOFILE (soft and hard)
  };

  explicit DaemonProcess(Options options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts and waits for the listening line; throws with the log on failure.
  void start(Duration timeout = std::chrono::seconds(20));
  std::uint16_t port() const noexcept { return port_; }
  // The management listener's port (GET /metrics, /ready, the detailed
  // /health); throws, with the log, when this run has none.
  std::uint16_t management_port();
  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }

  void signal(int sig);
  // Waits for the child to exit; nullopt on timeout (the child is left running).
  std::optional<int> wait_exit(Duration timeout);
  // SIGKILL, then reap.
  void kill_hard();

  std::string log() const;
  // Waits until the log contains `text`; false on timeout.
  bool wait_for_log(const std::string& text, Duration timeout) const;

 private:
  Options options_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t management_port_ = 0;  // 0: not looked up yet in this run
  std::size_t log_offset_ = 0;  // where this run's output starts in the log
};

}  // namespace ocirelay::test
