#include "log/stream_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace ocirelay::log {

namespace {
constexpr std::size_t kBufferBytes = 64 * 1024;
}

std::shared_ptr<StreamSink> StreamSink::duplicate(int fd) {
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (copy < 0) return nullptr;
  std::FILE* file = ::fdopen(copy, "w");
  if (file == nullptr) {
    ::close(copy);
    return nullptr;
  }
  // stdio allocates the buffer itself; full buffering: written when full or
  // on fflush.
  if (std::setvbuf(file, nullptr, _IOFBF, kBufferBytes) != 0) {
    std::fclose(file);
    return nullptr;
  }
  return std::shared_ptr<StreamSink>(new StreamSink(file));
}

StreamSink::~StreamSink() { std::fclose(file_); }

void StreamSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::fwrite(formatted.data(), 1, formatted.size(), file_);
}

void StreamSink::flush_() { std::fflush(file_); }

}  // namespace ocirelay::log
