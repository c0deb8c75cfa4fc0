// `destinations:`: where events go, each with its URL, timeout, retry policy
// and concurrency. The outbound parts of a destination (auth, tls, headers,
// payload) are read by outbound_schema.cpp.
#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>
#include <utility>

#include "config/field_table.hpp"
#include "config/net_checks.hpp"
#include "config/outbound_schema.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr std::uint64_t kMaxConcurrency = 1024;

// A list of HTTP statuses: codes (429) or classes ("5xx"), expanded to codes.
void read_status_list(SchemaWalker& w, const ConfigNode& list, const std::string& path,
                      std::vector<int>& out) {
  if (!w.expect_sequence(list, path, "HTTP status codes")) return;
  for (std::size_t i = 0; i < list.items.size(); ++i) {
    const ConfigNode& item = list.items[i];
    const std::string ip = SchemaWalker::index(path, i);
    auto text = w.raw_text(item, ip);
    if (!text) continue;
    const std::string& t = *text;
    if (t.size() == 3 && t[0] >= '1' && t[0] <= '5' &&
        (t.substr(1) == "xx" || t.substr(1) == "XX")) {
      const int base = (t[0] - '0') * 100;
      for (int s = base; s < base + 100; ++s) out.push_back(s);
      continue;
    }
    int code = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), code);
    if (ec != std::errc{} || ptr != t.data() + t.size() || code < 100 || code > 599) {
      w.error(item, ip,
              "bad HTTP status " + quote(item.text) + "; expected 100-599 or a class like \"5xx\"");
      continue;
    }
    if (code >= 200 && code <= 299) {
      w.error(item, ip, "2xx statuses always mean delivered");
      continue;
    }
    out.push_back(code);
  }
}

constexpr auto kRetryFields = fields<Retry>({
    {"initial_backoff",
     [](auto& w, auto& value, auto& path, Retry& out) {
       assign(out.initial_backoff, w.duration(value, path, kPositive));
     }},
    {"max_backoff",
     [](auto& w, auto& value, auto& path, Retry& out) {
       assign(out.max_backoff, w.duration(value, path, kPositive));
     }},
    {"max_age", [](auto& w, auto& value, auto& path,
                   Retry& out) { assign(out.max_age, w.duration(value, path, kPositive)); }},
    {"max_attempts",
     [](auto& w, auto& value, auto& path, Retry& out) {
       assign(out.max_attempts, w.integer(value, path, 0, 1000000));  // 0: no limit
     }},
    {"retry_on", [](auto& w, auto& value, auto& path,
                    Retry& out) { read_status_list(w, value, path, out.retry_on); }},
    {"dead_letter_on", [](auto& w, auto& value, auto& path,
                          Retry& out) { read_status_list(w, value, path, out.dead_letter_on); }},
});

void read_retry(SchemaWalker& w, const ConfigNode& node, const std::string& path, Retry& out) {
  if (!kRetryFields.expect(w, node, path)) {
    return;
  }
  const std::size_t errors_before = w.error_count();
  kRetryFields.read_fields(w, node, path, out);
  for (int s : out.retry_on) {
    if (std::find(out.dead_letter_on.begin(), out.dead_letter_on.end(), s) !=
        out.dead_letter_on.end()) {
      w.error(node.key_mark("dead_letter_on"), SchemaWalker::join(path, "dead_letter_on"),
              "HTTP " + std::to_string(s) + " is in both retry_on and dead_letter_on");
      break;
    }
  }
  if (w.error_count() == errors_before && out.initial_backoff > out.max_backoff) {
    const char* key = node.find("initial_backoff") != nullptr ? "initial_backoff" : "max_backoff";
    w.error(node.key_mark(key), SchemaWalker::join(path, key),
            "initial_backoff (" + format_duration(out.initial_backoff) +
                ") must not be greater than max_backoff (" + format_duration(out.max_backoff) +
                ")");
  }
}

// A destination with its name as written, for the cross-reference checks.
struct DestinationEntry {
  Destination destination;
  std::optional<NameRef> name;
};

constexpr auto kDestinationFields = fields<DestinationEntry>({
    {"name",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       out.name = read_name(w, value, path, out.destination.name);
     },
     Presence::required},
    {"url",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       auto url = w.text(value, path);
       if (!url) {
         return;
       }
       if (auto problem = url_problem(*url)) {
         // Quoted as written, and even then without any user:pass@ in it.
         w.error(value, path, "bad URL " + quote(redact_userinfo(value.text)) + ": " + *problem);
         return;
       }
       out.destination.url = std::move(*url);
     },
     Presence::required},
    {"auth",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       read_destination_auth(w, value, path, out.destination.auth);
     }},
    {"timeout",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       assign(out.destination.timeout, w.duration(value, path, kPositive));
     }},
    {"retry",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       read_retry(w, value, path, out.destination.retry);
     }},
    {"tls",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       read_destination_tls(w, value, path, out.destination.tls);
     }},
    {"concurrency",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       assign(out.destination.concurrency, w.integer(value, path, 1, kMaxConcurrency));
     }},
    {"rate_limit",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       auto text = w.raw_text(value, path);
       if (!text) {
         return;
       }
       double rate = 0;
       auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), rate);
       if (ec != std::errc{} || ptr != text->data() + text->size() || !(rate > 0) || rate > 1e6) {
         w.error(value, path,
                 "bad rate_limit " + quote(value.text) +
                     "; expected deliveries per second, a number above 0 (omit it for no limit)");
       } else {
         out.destination.rate_limit = rate;
       }
     }},
    {"headers",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       read_destination_headers(w, value, path, out.destination.headers);
     }},
    {"payload",
     [](auto& w, auto& value, auto& path, DestinationEntry& out) {
       read_destination_payload(w, value, path, out.destination.payload);
     }},
});

}  // namespace

void read_destinations(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                       std::vector<Destination>& out, std::vector<NameRef>& names) {
  if (!w.expect_sequence(value, path, "destination mappings")) {
    return;
  }
  for (std::size_t i = 0; i < value.items.size(); ++i) {
    DestinationEntry entry;
    kDestinationFields.read(w, value.items[i], SchemaWalker::index(path, i), entry);
    if (entry.name) {
      names.push_back(std::move(*entry.name));
    }
    out.push_back(std::move(entry.destination));
  }
}

}  // namespace ocirelay::config::detail
