// An spdlog sink writing to a stdio stream it owns, fully buffered: lines
// reach the file descriptor when the buffer fills or on flush(). Logging
// uses it for stderr (a duplicate of fd 2), so that info lines at thousands
// of events per second do not cost a write(2) each; Logging flushes it on
// warnings, on a timer and at exit.
//
// Thread contract: spdlog's base_sink<std::mutex> serialises every call.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>

namespace ocirelay::log {

class StreamSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // A buffered stream on a duplicate of `fd`; nullptr when it cannot be made
  // (the caller falls back to spdlog's unbuffered stderr sink).
  static std::shared_ptr<StreamSink> duplicate(int fd);

  ~StreamSink() override;
  StreamSink(const StreamSink&) = delete;
  StreamSink& operator=(const StreamSink&) = delete;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  explicit StreamSink(std::FILE* file) : file_(file) {}

  std::FILE* file_;
};

}  // namespace ocirelay::log
