#include "event_template.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <sstream>

namespace ocirelay::bench {

std::optional<EventTemplate> EventTemplate::load(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = path + ": cannot open";
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  const std::string body = text.str();
  // An OCI Events envelope's "eventID", else a CloudEvent's "id" (the first
  // member of that name: the fixtures put it before "data").
  std::string key = "\"eventID\"";
  auto k = body.find(key);
  if (k == std::string::npos) {
    key = "\"id\"";
    k = body.find(key);
  }
  const auto open = k == std::string::npos ? k : body.find('"', k + key.size());
  const auto close = open == std::string::npos ? open : body.find('"', open + 1);
  if (close == std::string::npos) {
    error = path + ": no \"eventID\" or \"id\" string member";
    return std::nullopt;
  }
  EventTemplate t;
  t.prefix_ = body.substr(0, open + 1);
  t.suffix_ = body.substr(close);
  const std::string time_key = key == "\"id\"" ? "\"time\"" : "\"eventTime\"";
  const auto tk = body.find(time_key);
  const auto time_open = tk == std::string::npos ? tk : body.find('"', tk + time_key.size());
  const auto time_close = time_open == std::string::npos ? time_open : body.find('"', time_open + 1);
  if (time_close != std::string::npos && (time_close < open || time_open > close)) {
    t.time_in_prefix_ = time_close < open;
    t.time_at_ = t.time_in_prefix_ ? time_open + 1 : time_open + 1 - close;
    t.time_size_ = time_close - time_open - 1;
  }
  return t;
}

std::string EventTemplate::time_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[96];  // room for any int GCC can imagine in each field
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return text;
}

std::string EventTemplate::make(std::string_view run, std::uint64_t seq, Ids ids) const {
  std::string out;
  out.reserve(prefix_.size() + suffix_.size() + run.size() + 64);
  out += prefix_;
  append_id(out, run, seq, ids);
  const std::size_t suffix_at = out.size();
  out += suffix_;
  if (time_at_ != std::string::npos) {
    out.replace((time_in_prefix_ ? 0 : suffix_at) + time_at_, time_size_, time_now());
  }
  return out;
}

std::string EventTemplate::id(std::string_view run, std::uint64_t seq, Ids ids) {
  std::string out;
  append_id(out, run, seq, ids);
  return out;
}

void EventTemplate::append_id(std::string& out, std::string_view run, std::uint64_t seq, Ids ids) {
  out += run;
  out += '-';
  if (ids == Ids::random) {
    // splitmix64 over the run's hash and the sequence number: the same ID
    // for the same (run, seq), in no order from one seq to the next.
    auto next = [state =
                     std::hash<std::string_view>{}(run) ^ (seq * 0x9e3779b97f4a7c15ULL)]() mutable {
      std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      return z ^ (z >> 31);
    };
    char uuid[37];
    const std::uint64_t hi = next();
    const std::uint64_t lo = next();
    std::snprintf(uuid, sizeof uuid, "%08x-%04x-4%03x-%04x-%012llx",
                  static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                  static_cast<unsigned>(hi & 0xfff),
                  static_cast<unsigned>(0x8000 | ((lo >> 48) & 0x3fff)),
                  static_cast<unsigned long long>(lo & 0xffffffffffffULL));
    out += uuid;
    out += '-';
  }
  out += std::to_string(seq);
}

std::optional<std::uint64_t> EventTemplate::seq_of(std::string_view id) {
  const auto dash = id.rfind('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  std::uint64_t seq = 0;
  const auto* first = id.data() + dash + 1;
  const auto* last = id.data() + id.size();
  const auto [ptr, ec] = std::from_chars(first, last, seq);
  if (ec != std::errc{} || ptr != last || first == last) {
    return std::nullopt;
  }
  return seq;
}

}  // namespace ocirelay::bench
