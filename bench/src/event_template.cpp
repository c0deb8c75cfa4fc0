#include "event_template.hpp"

#include <charconv>
#include <fstream>
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
  return t;
}

std::string EventTemplate::make(std::string_view run, std::uint64_t seq) const {
  std::string out;
  out.reserve(prefix_.size() + suffix_.size() + run.size() + 24);
  out += prefix_;
  out += run;
  out += '-';
  out += std::to_string(seq);
  out += suffix_;
  return out;
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
