// The daemon's loggers: one named spdlog logger per component ("ingress",
// "delivery", "storage", ...), all writing to the same sinks: stderr always,
// and the configured log file when there is one. Loggers are not registered
// in spdlog's global registry; components get theirs from here.
//
// Thread contract: loggers are thread-safe (spdlog's _mt sinks). get() and
// set_level() are called on the main thread.
#pragma once

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
};

class Logging {
 public:
  // Fails when the level is unknown or the file cannot be opened for append.
  static Result<std::unique_ptr<Logging>> create(const LogOptions& options);

  std::shared_ptr<spdlog::logger> get(const std::string& component);
  Result<bool> set_level(const std::string& level);
  void flush();

 private:
  Logging() = default;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks_;
  std::vector<std::shared_ptr<spdlog::logger>> loggers_;
  int level_ = 2;
};

// A logger for tools and tests that writes to stderr only.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& component,
                                              const std::string& level = "info");

}  // namespace ocirelay::log
