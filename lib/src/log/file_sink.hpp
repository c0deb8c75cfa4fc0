// An spdlog sink writing to a log file opened for append, that rotates by
// size (file -> file.1 -> ... -> file.N, the oldest dropped) and can be
// reopened (SIGUSR1), so logrotate's create/postrotate and copytruncate both
// work: writes always go to the end of whatever file is at the path.
//
// Thread contract: spdlog's base_sink<std::mutex> serialises every call,
// reopen() included.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

#include <spdlog/sinks/base_sink.h>

namespace ocirelay::log {

class FileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Throws spdlog::spdlog_ex when the file cannot be opened (start-up only).
  FileSink(std::string path, std::uint64_t max_size, unsigned max_files);
  ~FileSink() override;

  // Closes and opens the file at the path again.
  void reopen();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  void open();
  void rotate();

  std::string path_;
  std::uint64_t max_size_;
  unsigned max_files_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0;
};

}  // namespace ocirelay::log
