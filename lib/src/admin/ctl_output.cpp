#include "admin/ctl_output.hpp"

#include <algorithm>
#include <cstdio>

#include <rapidjson/document.h>

#include "ocirelay/common/size.hpp"

namespace ocirelay::admin {

namespace {

constexpr std::size_t kMaxErrorColumn = 60;

using Value = rapidjson::Value;

std::string text_of(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::int64_t number_of(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

bool has_array(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return it != object.MemberEnd() && it->value.IsArray();
}

std::string two_digits(std::int64_t n) {
  char buffer[24];
  std::snprintf(buffer, sizeof buffer, "%02lld", static_cast<long long>(n));
  return buffer;
}

// "2024-05-01T10:00:00.123Z" -> "2024-05-01 10:00:00Z" for tables.
std::string short_time(const std::string& rfc3339) {
  if (rfc3339.size() < 19) return rfc3339;
  std::string out = rfc3339.substr(0, 19);
  out[10] = ' ';
  return out + "Z";
}

// Keeps one table line one line: control characters become spaces.
std::string one_line(std::string text, std::size_t max) {
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (text.size() > max) {
    text.resize(max - 3);
    text += "...";
  }
  return text;
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string status_text(std::int64_t status) {
  return status == 0 ? std::string("none (no HTTP answer)") : std::to_string(status);
}

std::string size_of(const Value& object, const char* key) {
  const auto it = object.FindMember(key);
  return format_size(it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0);
}

// "storage: accepting new events; 3.2MiB free, ..." under the queue table,
// when the daemon measures its storage space.
std::string storage_line(const Value& root) {
  const auto it = root.FindMember("storage");
  if (it == root.MemberEnd() || !it->value.IsObject()) return {};
  const Value& s = it->value;
  const auto accepting = s.FindMember("accepting");
  const bool full =
      accepting != s.MemberEnd() && accepting->value.IsBool() && !accepting->value.GetBool();
  std::string line =
      full ? "storage: FULL, new events refused; " : "storage: accepting new events; ";
  line += size_of(s, "free_bytes") + " free, " + size_of(s, "reusable_bytes") +
          " reusable in the database (" + size_of(s, "database_bytes") + "), reserve " +
          size_of(s, "reserve_bytes");
  if (number_of(s, "max_size_bytes") > 0) line += ", max_size " + size_of(s, "max_size_bytes");
  return line + "\n";
}

// "delivered to oic-bulk: 3812 events in 100 billed messages (38.1 events per
// message)", for a destination with deliveries since the daemon started.
std::string billing_line(const Value& d) {
  const std::int64_t messages = number_of(d, "billed_messages");
  if (messages <= 0) return {};
  const std::int64_t events = number_of(d, "delivered_events");
  char ratio[32];
  std::snprintf(ratio, sizeof ratio, "%.1f",
                static_cast<double>(events) / static_cast<double>(messages));
  return "delivered to " + text_of(d, "destination") + ": " + plural(events, "event", "events") +
         " in " + plural(messages, "billed message", "billed messages") + " (" + ratio +
         " events per message)\n";
}

// "relay-a=2 relay-b=1": in_flight_by_node, as the daemon sent it (by node
// name); "-" when no relay holds any.
std::string by_node(const Value& destination) {
  const auto it = destination.FindMember("in_flight_by_node");
  if (it == destination.MemberEnd() || !it->value.IsObject()) return "-";
  std::string out;
  // (Not a range-for over GetObject(): this rapidjson's const one is broken.)
  for (auto n = it->value.MemberBegin(); n != it->value.MemberEnd(); ++n) {
    if (!out.empty()) out += ' ';
    out += one_line(std::string(n->name.GetString(), n->name.GetStringLength()), 40);
    out += '=';
    out += std::to_string(n->value.IsInt64() ? n->value.GetInt64() : 0);
  }
  return out.empty() ? "-" : out;
}

Result<std::string> queue_stats(const Value& root) {
  if (!has_array(root, "destinations")) return fail("no destinations in the answer");
  const Value& list = root["destinations"];
  if (list.Empty()) return std::string("no destinations configured and nothing queued\n");
  std::vector<std::vector<std::string>> rows{
      {"DESTINATION", "STATE", "QUEUED", "IN FLIGHT", "DEAD", "OLDEST", "IN FLIGHT BY NODE"}};
  std::string billing;
  for (const auto& d : list.GetArray()) {
    if (!d.IsObject()) return fail("a destination is not an object");
    const auto oldest = d.FindMember("oldest_age_seconds");
    rows.push_back(
        {text_of(d, "destination"), text_of(d, "state"), std::to_string(number_of(d, "queued")),
         std::to_string(number_of(d, "in_flight")), std::to_string(number_of(d, "dead")),
         oldest != d.MemberEnd() && oldest->value.IsInt64() ? format_age(oldest->value.GetInt64())
                                                            : std::string("-"),
         by_node(d)});
    billing += billing_line(d);
  }
  return format_table(rows) + billing + storage_line(root);
}

Result<std::string> dlq_list(const Value& root) {
  if (!has_array(root, "dead_letters")) return fail("no dead_letters in the answer");
  const Value& list = root["dead_letters"];
  const std::int64_t total = number_of(root, "total");
  if (list.Empty()) return std::string("no dead letters\n");
  std::vector<std::vector<std::string>> rows{
      {"ID", "DESTINATION", "EVENT ID", "ATTEMPTS", "STATUS", "DEAD SINCE", "LAST ERROR"}};
  for (const auto& l : list.GetArray()) {
    if (!l.IsObject()) return fail("a dead letter is not an object");
    const std::int64_t status = number_of(l, "last_status");
    rows.push_back({std::to_string(number_of(l, "id")), text_of(l, "destination"),
                    one_line(text_of(l, "event_id"), 80), std::to_string(number_of(l, "attempts")),
                    status == 0 ? std::string("-") : std::to_string(status),
                    short_time(text_of(l, "updated_at")),
                    one_line(text_of(l, "last_error"), kMaxErrorColumn)});
  }
  std::string out = format_table(rows);
  const auto shown = static_cast<std::int64_t>(list.Size());
  out += '(';
  if (total > shown) {
    out += std::to_string(shown);
    out += " of ";
    out += std::to_string(total);
    out += " dead letters shown; raise --limit for more";
  } else {
    out += plural(shown, "dead letter", "dead letters");
  }
  out += ")\n";
  return out;
}

Result<std::string> dlq_show(const Value& l) {
  if (!l.HasMember("id")) return fail("no id in the answer");
  std::vector<std::vector<std::string>> rows{
      {"id:", std::to_string(number_of(l, "id"))},
      {"event id:", text_of(l, "event_id")},
      {"destination:", text_of(l, "destination")},
      {"attempts:", std::to_string(number_of(l, "attempts"))},
      {"last status:", status_text(number_of(l, "last_status"))},
      {"last error:", one_line(text_of(l, "last_error"), 4096)},
      {"received at:", text_of(l, "received_at")},
      {"dead since:", text_of(l, "updated_at")},
  };
  const auto configured = l.FindMember("destination_configured");
  if (configured != l.MemberEnd() && configured->value.IsBool() && !configured->value.GetBool()) {
    rows[2][1] += " (no longer configured: cannot be replayed)";
  }
  std::string out = format_table(rows);
  std::string body = text_of(l, "body");
  out += "event:\n" + body;
  if (body.empty() || body.back() != '\n') out += "\n";
  return out;
}

Result<std::string> dlq_replay(const Value& root) {
  if (!root.HasMember("replayed")) return fail("no replayed count in the answer");
  const std::int64_t n = number_of(root, "replayed");
  std::string out = "replayed " + plural(n, "dead letter", "dead letters");
  if (has_array(root, "destinations") && !root["destinations"].Empty()) {
    std::string names;
    for (const auto& d : root["destinations"].GetArray()) {
      if (d.IsString()) names += (names.empty() ? "" : ", ") + std::string(d.GetString());
    }
    out += " to " + names;
  }
  return out + "\n";
}

Result<std::string> dlq_purge(const Value& root) {
  if (!root.HasMember("purged")) return fail("no purged count in the answer");
  return "purged " + plural(number_of(root, "purged"), "dead letter", "dead letters") + "\n";
}

}  // namespace

Result<std::string> render_text(CtlCommand command, std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return fail("the answer is not a JSON object");
  }
  switch (command) {
    case CtlCommand::queue_stats:
      return queue_stats(doc);
    case CtlCommand::dlq_list:
      return dlq_list(doc);
    case CtlCommand::dlq_show:
      return dlq_show(doc);
    case CtlCommand::dlq_replay:
      return dlq_replay(doc);
    case CtlCommand::dlq_purge:
      return dlq_purge(doc);
    case CtlCommand::none:
      break;
  }
  return fail("no command");
}

std::string error_message(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    std::string message = text_of(doc, "error");
    if (!message.empty()) return message;
  }
  return one_line(std::string(json), 200);
}

std::string format_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string format_age(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 60) return std::to_string(seconds) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m" + two_digits(seconds % 60) + "s";
  if (seconds < 86400) {
    return std::to_string(seconds / 3600) + "h" + two_digits(seconds % 3600 / 60) + "m";
  }
  return std::to_string(seconds / 86400) + "d" + two_digits(seconds % 86400 / 3600) + "h";
}

}  // namespace ocirelay::admin
