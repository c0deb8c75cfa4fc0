#include "log/json_formatter.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string_view>

#include <spdlog/details/log_msg.h>

#include "ocirelay/common/json_escape.hpp"

namespace ocirelay::log {

namespace {

void append(spdlog::memory_buf_t& dest, std::string_view s) { dest.append(s.data(), s.data() + s.size()); }

void field(spdlog::memory_buf_t& dest, std::string_view name, std::string_view value) {
  append(dest, ",\"");
  append(dest, name);
  append(dest, "\":\"");
  append(dest, json_escape(value));
  append(dest, "\"");
}

bool id_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '_' || c == '.' || c == ':';
}

}  // namespace

void JsonFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const auto t = msg.time.time_since_epoch();
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  const std::string_view message(msg.payload.data(), msg.payload.size());
  append(dest, "{\"time\":\"");
  append(dest, ts);
  append(dest, "\"");
  const auto level = spdlog::level::to_string_view(msg.level);
  field(dest, "level", std::string_view(level.data(), level.size()));
  field(dest, "component", std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  field(dest, "message", message);
  // A line about a request starts with its ID: "c12.3: ..." or "c12.3 POST ...".
  if (message.size() > 3 && message[0] == 'c' && message[1] >= '0' && message[1] <= '9') {
    std::size_t n = 1;
    while (n < message.size() && ((message[n] >= '0' && message[n] <= '9') || message[n] == '.')) {
      ++n;
    }
    if (n < message.size() && (message[n] == ':' || message[n] == ' ') &&
        message.substr(0, n).find('.') != std::string_view::npos) {
      field(dest, "requestID", message.substr(0, n));
    }
  }
  // "event <id> ..." names the event (an ID has a digit; "event deliveries" is not one).
  for (auto at = message.find("event "); at != std::string_view::npos;
       at = message.find("event ", at + 6)) {
    auto rest = message.substr(at + 6);
    std::size_t n = 0;
    while (n < rest.size() && id_char(rest[n])) ++n;
    const auto id = rest.substr(0, n);
    if (n >= 8 && std::any_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      field(dest, "eventID", id);
      break;
    }
  }
  append(dest, "}\n");
}

std::unique_ptr<spdlog::formatter> JsonFormatter::clone() const {
  return std::make_unique<JsonFormatter>();
}

}  // namespace ocirelay::log
