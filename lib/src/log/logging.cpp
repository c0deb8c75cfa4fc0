#include "ocirelay/log/logging.hpp"

#include "log/file_sink.hpp"
#include "log/json_formatter.hpp"
#include "log/stream_sink.hpp"
#include "ocirelay/common/directories.hpp"

#include <unistd.h>

#include <filesystem>
#include <optional>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ocirelay::log {

namespace {

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e%z %-5l [%n] %v";

std::optional<spdlog::level::level_enum> parse_level(const std::string& text) {
  if (text == "trace") return spdlog::level::trace;
  if (text == "debug") return spdlog::level::debug;
  if (text == "info") return spdlog::level::info;
  if (text == "warn") return spdlog::level::warn;
  if (text == "error") return spdlog::level::err;
  return std::nullopt;
}

}  // namespace

Result<std::unique_ptr<Logging>> Logging::create(const LogOptions& options) {
  auto level = parse_level(options.level);
  if (!level) {
    return fail("unknown log level \"" + options.level + "\"");
  }
  std::unique_ptr<Logging> logging(new Logging());
  logging->level_ = static_cast<int>(*level);
  logging->flush_interval_ = options.flush_interval;
  auto style = [&](spdlog::sinks::sink& sink) {
    if (options.json) {
      sink.set_formatter(std::make_unique<JsonFormatter>());
    } else {
      sink.set_pattern(kPattern);
    }
  };
  std::shared_ptr<spdlog::sinks::sink> err;
  if (options.flush_interval.count() > 0) err = StreamSink::duplicate(STDERR_FILENO);
  if (!err) {
    err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    logging->flush_interval_ = std::chrono::milliseconds::zero();
  }
  style(*err);
  logging->sinks_.push_back(err);
  if (!options.file.empty()) {
    try {
      auto parent = std::filesystem::path(options.file).parent_path();
      if (!parent.empty()) {
        if (const int error = make_private_directories(parent); error != 0) {
          return fail("cannot create log directory " + parent.string() + ": " +
                      os_error_text(error));
        }
      }
      auto file = std::make_shared<FileSink>(options.file, options.max_size, options.max_files);
      style(*file);
      logging->file_ = file;
      logging->sinks_.push_back(file);
    } catch (const std::exception& e) {
      return fail("cannot open log file " + options.file + ": " + e.what());
    }
  }
  return logging;
}

std::shared_ptr<spdlog::logger> Logging::get(const std::string& component) {
  for (const auto& l : loggers_) {
    if (l->name() == component) return l;
  }
  auto logger = std::make_shared<spdlog::logger>(component, sinks_.begin(), sinks_.end());
  logger->set_level(static_cast<spdlog::level::level_enum>(level_));
  // Buffered: a warning writes out everything before it at once; the rest
  // waits for the owner's periodic flush().
  logger->flush_on(flush_interval_.count() > 0 ? spdlog::level::warn : spdlog::level::trace);
  loggers_.push_back(logger);
  return logger;
}

Result<Unit> Logging::set_level(const std::string& level) {
  auto parsed = parse_level(level);
  if (!parsed) return fail("unknown log level \"" + level + "\"");
  level_ = static_cast<int>(*parsed);
  for (const auto& l : loggers_) l->set_level(*parsed);
  return Unit{};
}

void Logging::reopen() {
  if (file_) file_->reopen();
}

void Logging::flush() {
  for (const auto& l : loggers_) l->flush();
}

std::shared_ptr<spdlog::logger> stderr_logger(const std::string& component,
                                              const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_pattern(kPattern);
  auto logger = std::make_shared<spdlog::logger>(component, sink);
  logger->set_level(parse_level(level).value_or(spdlog::level::info));
  return logger;
}

}  // namespace ocirelay::log
