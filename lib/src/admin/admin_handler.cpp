#include "ocirelay/admin/admin_handler.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <map>
#include <span>
#include <string_view>
#include <utility>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/use_awaitable.hpp>

#include "admin/query_string.hpp"
#include "ocirelay/common/duration.hpp"

namespace ocirelay::admin {

namespace asio = boost::asio;
using http::error_response;
using http::json_response;
using http::method_not_allowed;
using http::Request;
using http::Response;
using storage::Millis;
using storage::Store;
using storage::StoreResult;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

namespace {

constexpr std::string_view kStatsPath = "/v1/queue/stats";
constexpr std::string_view kDlqPath = "/v1/dlq";
constexpr std::string_view kReplaySuffix = "/replay";
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 100000;

enum class Action { queue_stats, list, show, replay_one, replay_all, purge_one, purge_all };

// What a method and path ask for: an action, or an error answer.
struct Resolved {
  std::optional<Action> action;
  std::optional<std::int64_t> id;
  Response error;
};

Resolved resolve(std::string_view method, std::string_view path) {
  auto pick = [&](std::initializer_list<std::pair<std::string_view, Action>> allowed,
                  std::string_view allow) {
    for (const auto& [m, action] : allowed) {
      if (method == m) return Resolved{action, std::nullopt, {}};
    }
    return Resolved{std::nullopt, std::nullopt, method_not_allowed(allow)};
  };
  if (path == kStatsPath) {
    return pick({{"GET", Action::queue_stats}}, "GET");
  }
  if (path == kDlqPath) {
    return pick({{"GET", Action::list}, {"DELETE", Action::purge_all}}, "GET, DELETE");
  }
  const std::string prefix = std::string(kDlqPath) + "/";
  if (path.substr(0, prefix.size()) != prefix) {
    return Resolved{std::nullopt, std::nullopt, error_response(404, "no such path")};
  }
  std::string_view rest = path.substr(prefix.size());
  if (rest == kReplaySuffix.substr(1)) {
    return pick({{"POST", Action::replay_all}}, "POST");
  }
  bool replay = false;
  if (rest.size() > kReplaySuffix.size() &&
      rest.substr(rest.size() - kReplaySuffix.size()) == kReplaySuffix) {
    replay = true;
    rest.remove_suffix(kReplaySuffix.size());
  }
  if (rest.find('/') != std::string_view::npos) {
    return Resolved{std::nullopt, std::nullopt, error_response(404, "no such path")};
  }
  const auto id = parse_id(rest);
  if (!id) {
    return Resolved{std::nullopt, std::nullopt,
                    error_response(400, "bad dead-letter id '" + std::string(rest) +
                                            "': expected a positive whole number")};
  }
  Resolved r = replay ? pick({{"POST", Action::replay_one}}, "POST")
                      : pick({{"GET", Action::show}, {"DELETE", Action::purge_one}}, "GET, DELETE");
  r.id = id;
  return r;
}

struct Params {
  std::optional<std::string> destination;
  std::size_t limit = kDefaultLimit;
  std::optional<Duration> older_than;
};

// Reads the query string, accepting only the `allowed` parameters.
Result<Params> read_params(std::string_view target, std::span<const std::string_view> allowed) {
  auto parsed = parse_query(target_query(target));
  if (!parsed) {
    return fail(parsed.error());
  }
  Params params;
  for (const auto& [name, value] : parsed.value()) {
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string message = "unknown parameter '" + name + "'";
      if (allowed.empty()) {
        message += "; this request takes none";
      } else {
        message += "; allowed:";
        for (std::size_t i = 0; i < allowed.size(); ++i) {
          message += (i == 0 ? " " : ", ") + std::string(allowed[i]);
        }
      }
      return fail(std::move(message));
    }
    if (name == "destination") {
      if (value.empty()) {
        return fail("destination must not be empty");
      }
      params.destination = value;
    } else if (name == "limit") {
      const auto n = parse_id(value);
      if (!n || static_cast<std::uint64_t>(*n) > kMaxLimit) {
        return fail("bad limit '" + value + "': expected a whole number from 1 to " +
                    std::to_string(kMaxLimit));
      }
      params.limit = static_cast<std::size_t>(*n);
    } else if (name == "older_than") {
      const auto d = parse_duration(value);
      if (!d) {
        return fail("bad older_than '" + value + "': expected a duration such as 7d, 12h or 30m");
      }
      params.older_than = *d;
    }
  }
  return params;
}

// RFC 3339 in UTC with milliseconds: "2024-05-01T10:00:00.123Z".
std::string format_time(Millis at) {
  const std::time_t seconds = static_cast<std::time_t>(at / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 48> buffer{};
  std::snprintf(buffer.data(), buffer.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(at % 1000));
  return buffer.data();
}

void write_string(JsonWriter& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_dead_letter(JsonWriter& w, const storage::DeadLetter& letter) {
  w.Key("id");
  w.Int64(letter.id);
  w.Key("event_id");
  write_string(w, letter.event_id);
  w.Key("destination");
  write_string(w, letter.destination);
  w.Key("attempts");
  w.Int(letter.attempts);
  w.Key("last_status");
  w.Int(letter.last_status);
  w.Key("last_error");
  write_string(w, letter.last_error);
  w.Key("received_at");
  write_string(w, format_time(letter.received_at));
  w.Key("updated_at");
  write_string(w, format_time(letter.updated_at));
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

Response storage_failed(const storage::StoreError& error) {
  return error_response(500, "storage: " + error.message);
}

Response ok_json(const rapidjson::StringBuffer& buffer) {
  return json_response(200, std::string(buffer.GetString(), buffer.GetSize()));
}

constexpr std::array<std::string_view, 0> kNoParams{};
constexpr std::array<std::string_view, 2> kListParams{"destination", "limit"};
constexpr std::array<std::string_view, 1> kReplayParams{"destination"};
constexpr std::array<std::string_view, 2> kPurgeParams{"destination", "older_than"};

}  // namespace

AdminHandler::AdminHandler(AdminContext context) : ctx_(std::move(context)) {}

bool AdminHandler::configured(const std::string& destination) const {
  return std::find(ctx_.destinations.begin(), ctx_.destinations.end(), destination) !=
         ctx_.destinations.end();
}

std::optional<Response> AdminHandler::precheck(const Request& request) {
  Resolved r = resolve(request.method, target_path(request.target));
  if (!r.action) {
    return std::move(r.error);
  }
  return std::nullopt;
}

asio::awaitable<Response> AdminHandler::handle(Request request) {
  Resolved r = resolve(request.method, target_path(request.target));
  Response response;
  if (!r.action) {
    response = std::move(r.error);
  } else {
    switch (*r.action) {
      case Action::queue_stats:
        response = co_await queue_stats(request);
        break;
      case Action::list:
        response = co_await list(request);
        break;
      case Action::show:
        response = co_await show(request, *r.id);
        break;
      case Action::replay_one:
        response = co_await replay(request, r.id);
        break;
      case Action::replay_all:
        response = co_await replay(request, std::nullopt);
        break;
      case Action::purge_one:
        response = co_await purge(request, r.id);
        break;
      case Action::purge_all:
        response = co_await purge(request, std::nullopt);
        break;
    }
  }
  ctx_.log->debug("{} {} {} {}: {}", request.request_id, request.remote, request.method,
                  request.target, response.status);
  co_return response;
}

asio::awaitable<Response> AdminHandler::queue_stats(const Request& request) {
  if (auto params = read_params(request.target, kNoParams); !params) {
    co_return error_response(400, params.error());
  }
  auto stats = co_await ctx_.storage.async_stats(asio::use_awaitable);
  if (!stats) {
    co_return storage_failed(stats.error());
  }
  std::map<std::string, storage::DestinationStats> by_name;
  for (auto& s : stats.value()) by_name.emplace(s.destination, s);
  // Configured destinations in configuration order, then any others that
  // still have rows (removed from the configuration since).
  std::vector<std::string> names = ctx_.destinations;
  for (const auto& [name, unused] : by_name) {
    if (!configured(name)) names.push_back(name);
  }
  const Millis now = storage::now_millis();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("destinations");
  w.StartArray();
  for (const auto& name : names) {
    storage::DestinationStats s;
    if (auto it = by_name.find(name); it != by_name.end()) s = it->second;
    w.StartObject();
    w.Key("destination");
    write_string(w, name);
    w.Key("state");
    write_string(w, configured(name) ? ctx_.destination_state(name) : "not configured");
    w.Key("queued");
    w.Int64(s.pending);
    w.Key("in_flight");
    w.Int64(s.inflight);
    w.Key("in_flight_by_node");
    w.StartObject();
    for (const storage::NodeInflight& n : s.inflight_by_node) {
      w.Key(n.node.data(), static_cast<rapidjson::SizeType>(n.node.size()));
      w.Int64(n.inflight);
    }
    w.EndObject();
    w.Key("dead");
    w.Int64(s.dead);
    w.Key("oldest_age_seconds");
    if (s.oldest_received_at) {
      w.Int64(std::max<Millis>(0, now - *s.oldest_received_at) / 1000);
    } else {
      w.Null();
    }
    if (ctx_.destination_billing && configured(name)) {
      const AdminContext::Billing billing = ctx_.destination_billing(name);
      w.Key("delivered_events");
      w.Uint64(billing.events);
      w.Key("billed_messages");
      w.Uint64(billing.messages);
    }
    w.EndObject();
  }
  w.EndArray();
  // The last space measurement (storage.reserve, storage.max_size): no
  // storage call, the worker keeps it.
  if (const storage::SpaceStatus space = ctx_.storage.space(); space.measured) {
    w.Key("storage");
    w.StartObject();
    w.Key("accepting");
    w.Bool(space.accepting);
    w.Key("free_bytes");
    w.Uint64(space.sample.fs_free);
    w.Key("reusable_bytes");
    w.Uint64(space.sample.reusable_bytes);
    w.Key("database_bytes");
    w.Uint64(space.sample.database_bytes + space.sample.wal_bytes);
    w.Key("reserve_bytes");
    w.Uint64(space.reserve);
    w.Key("max_size_bytes");
    w.Uint64(space.max_size);
    w.EndObject();
  }
  w.EndObject();
  co_return ok_json(buffer);
}

asio::awaitable<Response> AdminHandler::list(const Request& request) {
  auto params = read_params(request.target, kListParams);
  if (!params) {
    co_return error_response(400, params.error());
  }
  struct Listing {
    std::vector<storage::DeadLetter> letters;
    std::int64_t total = 0;  // dead letters matching, beyond the limit too
  };
  storage::DeadLetterQuery query;
  query.destination = params->destination;
  query.limit = params->limit;
  auto listing_op = ctx_.storage.async_call<Listing>(
      asio::use_awaitable, [query](Store& store) -> StoreResult<Listing> {
        auto letters = store.list_dead_letters(query);
        if (!letters) return fail(std::move(letters).error());
        auto stats = store.stats();
        if (!stats) return fail(std::move(stats).error());
        Listing out;
        out.letters = std::move(letters).value();
        for (const auto& s : stats.value()) {
          if (!query.destination || s.destination == *query.destination) out.total += s.dead;
        }
        return out;
      });
  auto listing = co_await std::move(listing_op);
  if (!listing) {
    co_return storage_failed(listing.error());
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("dead_letters");
  w.StartArray();
  for (const auto& letter : listing->letters) {
    w.StartObject();
    write_dead_letter(w, letter);
    w.EndObject();
  }
  w.EndArray();
  w.Key("total");
  w.Int64(listing->total);
  w.EndObject();
  co_return ok_json(buffer);
}

asio::awaitable<Response> AdminHandler::show(const Request& request, std::int64_t id) {
  if (auto params = read_params(request.target, kNoParams); !params) {
    co_return error_response(400, params.error());
  }
  auto found_op = ctx_.storage.async_call<std::optional<storage::DeadLetterDetail>>(
      asio::use_awaitable, [id](Store& store) { return store.dead_letter(id); });
  auto found = co_await std::move(found_op);
  if (!found) {
    co_return storage_failed(found.error());
  }
  if (!found.value()) {
    co_return error_response(404, "no dead letter with id " + std::to_string(id));
  }
  const storage::DeadLetterDetail& detail = *found.value();
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  write_dead_letter(w, detail.letter);
  w.Key("destination_configured");
  w.Bool(configured(detail.letter.destination));
  w.Key("body");
  write_string(w, detail.body);
  w.EndObject();
  co_return ok_json(buffer);
}

asio::awaitable<Response> AdminHandler::replay(const Request& request,
                                               std::optional<std::int64_t> id) {
  auto params = read_params(request.target, id ? std::span<const std::string_view>(kNoParams)
                                               : std::span<const std::string_view>(kReplayParams));
  if (!params) {
    co_return error_response(400, params.error());
  }
  if (params->destination && !configured(*params->destination)) {
    co_return error_response(409, "destination '" + *params->destination +
                                      "' is not configured: its dead letters cannot be "
                                      "delivered (purge them instead)");
  }
  struct Replayed {
    storage::ReplayOutcome outcome;
    bool found = true;
    std::string unconfigured;  // the destination of a dead letter that has none
  };
  // Which destinations to replay: the one asked for, or every configured one.
  std::vector<std::string> destinations =
      params->destination ? std::vector<std::string>{*params->destination} : ctx_.destinations;
  auto replayed_op = ctx_.storage.async_call<Replayed>(
      asio::use_awaitable,
      [id, destinations = std::move(destinations)](Store& store) -> StoreResult<Replayed> {
        Replayed out;
        const Millis now = storage::now_millis();
        if (id) {
          auto found = store.dead_letter(*id);
          if (!found) return fail(std::move(found).error());
          if (!found.value()) {
            out.found = false;
            return out;
          }
          const std::string& destination = found.value()->letter.destination;
          if (std::find(destinations.begin(), destinations.end(), destination) ==
              destinations.end()) {
            out.unconfigured = destination;
            return out;
          }
          storage::DeadLetterSelection selection;
          selection.id = *id;
          auto r = store.replay_dead_letters(selection, now);
          if (!r) return fail(std::move(r).error());
          out.outcome = std::move(r).value();
          return out;
        }
        for (const auto& destination : destinations) {
          storage::DeadLetterSelection selection;
          selection.destination = destination;
          auto r = store.replay_dead_letters(selection, now);
          if (!r) return fail(std::move(r).error());
          out.outcome.count += r->count;
          for (auto& d : r->destinations) out.outcome.destinations.push_back(std::move(d));
        }
        return out;
      });
  auto replayed = co_await std::move(replayed_op);
  if (!replayed) {
    co_return storage_failed(replayed.error());
  }
  if (!replayed->found) {
    co_return error_response(404, "no dead letter with id " + std::to_string(*id));
  }
  if (!replayed->unconfigured.empty()) {
    co_return error_response(409, "dead letter " + std::to_string(*id) + " is for destination '" +
                                      replayed->unconfigured +
                                      "', which is not configured: it cannot be delivered "
                                      "(purge it instead)");
  }
  const storage::ReplayOutcome& outcome = replayed->outcome;
  if (outcome.count > 0) {
    ctx_.log->info("{}: {} dead letter(s) replayed to {} (requested by {})", request.request_id,
                   outcome.count, join(outcome.destinations), request.remote);
    ctx_.on_replayed(outcome.destinations);
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("replayed");
  w.Int64(outcome.count);
  w.Key("destinations");
  w.StartArray();
  for (const auto& d : outcome.destinations) write_string(w, d);
  w.EndArray();
  w.EndObject();
  co_return ok_json(buffer);
}

asio::awaitable<Response> AdminHandler::purge(const Request& request,
                                              std::optional<std::int64_t> id) {
  auto params = read_params(request.target, id ? std::span<const std::string_view>(kNoParams)
                                               : std::span<const std::string_view>(kPurgeParams));
  if (!params) {
    co_return error_response(400, params.error());
  }
  storage::DeadLetterSelection selection;
  selection.id = id;
  selection.destination = params->destination;
  if (params->older_than) {
    selection.updated_before = storage::now_millis() - params->older_than->count();
  }
  auto purged_op = ctx_.storage.async_call<std::int64_t>(
      asio::use_awaitable,
      [selection](Store& store) { return store.purge_dead_letters(selection); });
  auto purged = co_await std::move(purged_op);
  if (!purged) {
    co_return storage_failed(purged.error());
  }
  if (id && purged.value() == 0) {
    co_return error_response(404, "no dead letter with id " + std::to_string(*id));
  }
  if (purged.value() > 0) {
    ctx_.log->info(
        "{}: {} dead letter(s) purged{}{} (requested by {})", request.request_id, purged.value(),
        params->destination ? " of " + *params->destination : std::string(),
        params->older_than ? ", dead for longer than " + format_duration(*params->older_than)
                           : std::string(),
        request.remote);
  }
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  w.Key("purged");
  w.Int64(purged.value());
  w.EndObject();
  co_return ok_json(buffer);
}

}  // namespace ocirelay::admin
