// Formats log lines as JSON objects, one per line: time, level, component,
// message, and the event ID and request ID when the message names them
// ("event <id> ..." and a leading "<request id>: "). Stateless; clone()d by
// spdlog per sink.
#pragma once

#include <memory>

#include <spdlog/formatter.h>

namespace ocirelay::log {

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace ocirelay::log
