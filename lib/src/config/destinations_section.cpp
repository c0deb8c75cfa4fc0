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
#include "ocirelay/common/size.hpp"

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
    {"initial_backoff", duration_field<&Retry::initial_backoff, 1>},
    {"max_backoff", duration_field<&Retry::max_backoff, 1>},
    {"max_age", duration_field<&Retry::max_age, 1>},
    {"max_attempts", integer_field<&Retry::max_attempts, 0, 1000000>},  // 0: no limit
    {"retry_on", member_field<&Retry::retry_on, read_status_list>},
    {"dead_letter_on", member_field<&Retry::dead_letter_on, read_status_list>},
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

// `batch:` limits. A request of more than this many events gains nothing on
// billing (50 KiB holds about 40 typical events) and makes one failure cost
// many; a body under 1 KiB cannot hold two typical events; 16 MiB is beyond
// what Oracle Integration's REST trigger takes in a request.
constexpr std::uint64_t kMaxBatchEvents = 1000;
constexpr std::uint64_t kMinBatchBytes = 1024;
constexpr std::uint64_t kMaxBatchBytes = 16ull * 1024 * 1024;
constexpr std::size_t kMaxEnvelopeLength = 64;

// The member that holds the array: a name OIC's REST trigger can map to an
// element of its schema (a letter or '_', then letters, digits, '_' or '-');
// empty for a bare array.
bool envelope_ok(const std::string& name) {
  if (name.empty()) return true;
  if (name.size() > kMaxEnvelopeLength) return false;
  const auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!letter(name[0]) && name[0] != '_') return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return letter(c) || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

constexpr auto kBatchFields = fields<DestinationBatch>({
    {"max_events", integer_field<&DestinationBatch::max_events, 1, kMaxBatchEvents>},
    {"max_bytes",
     [](auto& w, auto& value, auto& path, DestinationBatch& out) {
       const auto bytes = w.size(value, path);
       if (!bytes) return;
       if (*bytes < kMinBatchBytes || *bytes > kMaxBatchBytes) {
         w.error(value, path,
                 "max_bytes " + quote(value.text) + " is out of range; expected " +
                     format_size(kMinBatchBytes) + " to " + format_size(kMaxBatchBytes) +
                     " (50KiB is one Oracle Integration message)");
         return;
       }
       out.max_bytes = *bytes;
     }},
    {"max_wait", duration_field<&DestinationBatch::max_wait, 1>},
    {"envelope",
     [](auto& w, auto& value, auto& path, DestinationBatch& out) {
       auto name = w.text(value, path);
       if (!name) return;
       if (!envelope_ok(*name)) {
         w.error(value, path,
                 "bad envelope " + quote(value.text) +
                     "; expected a member name of up to 64 letters, digits, '_' or '-', "
                     "starting with a letter or '_' (or \"\" for a bare JSON array)");
         return;
       }
       out.envelope = std::move(*name);
     }},
});

// A destination with its name as written, for the cross-reference checks.
struct DestinationEntry : Destination {
  std::optional<NameRef> name_ref;
};

constexpr auto kDestinationFields = fields<DestinationEntry>({
    {"name", name_field, Presence::required},
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
       out.url = std::move(*url);
     },
     Presence::required},
    {"auth", member_field<&Destination::auth, read_destination_auth>},
    {"timeout", duration_field<&Destination::timeout, 1>},
    {"retry", member_field<&Destination::retry, read_retry>},
    {"tls", member_field<&Destination::tls, read_destination_tls>},
    {"concurrency", integer_field<&Destination::concurrency, 1, kMaxConcurrency>},
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
         out.rate_limit = rate;
       }
     }},
    {"headers", member_field<&Destination::headers, read_destination_headers>},
    {"payload", member_field<&Destination::payload, read_destination_payload>},
    {"batch", mapping_field<&Destination::batch, kBatchFields>},
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
    if (entry.name_ref) {
      names.push_back(std::move(*entry.name_ref));
    }
    out.push_back(std::move(entry));  // the Destination, without the entry's name_ref
  }
}

}  // namespace ocirelay::config::detail
