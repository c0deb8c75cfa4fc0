// The daemon's loggers: one named spdlog logger per component ("ingress",
// "delivery", "storage", ...), all writing to the same sinks: stderr always,
// and the configured log file when there is one. Loggers are not registered
// in spdlog's global registry; components get theirs from here.
//
// The file, when configured, rotates by size (max_size, max_files) and can be
// reopened (SIGUSR1) for logrotate. Text lines, or JSON lines with time,
// level, component, message, eventID and requestID.
//
// Buffering: with a flush_interval, lines are buffered in both sinks and
// written out by a warning or worse (with every line before it), by the
// owner calling flush() every flush_interval, and at exit; a crash can lose
// at most that much of the info and debug lines. With flush_interval 0 every
// line is written at once.
//
// Thread contract: loggers are thread-safe (spdlog's _mt sinks). get(),
// set_level() and reopen() are called on the main thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"

namespace spdlog {
class logger;
namespace sinks {
class sink;
}
}  // namespace spdlog

namespace ocirelay::log {

struct LogOptions {
  std::string level = "info";
  std::string file;  // empty: stderr only
  bool json = false;  // JSON lines instead of text
  std::uint64_t max_size = 100ull * 1024 * 1024;  // rotate the file past this; 0: never
  unsigned max_files = 5;
  std::chrono::milliseconds flush_interval{1000};  // 0: write every line at once
};

class FileSink;

class Logging {
 public:
  // Fails when the level is unknown or the file cannot be opened for append.
  static Result<std::unique_ptr<Logging>> create(const LogOptions& options);

  std::shared_ptr<spdlog::logger> get(const std::string& component);
  Result<Unit> set_level(const std::string& level);
  // Writes out what the sinks buffered. Thread-safe.
  void flush();
  // How often the owner should call flush(); zero when lines are not buffered.
  std::chrono::milliseconds flush_interval() const { return flush_interval_; }
  // Reopens the log file (after logrotate moved it); no-op without one.
  void reopen();

 private:
  Logging() = default;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks_;
  std::shared_ptr<FileSink> file_;
  std::vector<std::shared_ptr<spdlog::logger>> loggers_;
  int level_ = 2;
  std::chrono::milliseconds flush_interval_{0};
};

// A logger for tools and tests that writes to stderr only.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& component,
                                              const std::string& level = "info");

}  // namespace ocirelay::log
