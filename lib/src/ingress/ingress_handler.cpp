#include "ocirelay/ingress/ingress_handler.hpp"

#include <algorithm>

#include <boost/asio/use_awaitable.hpp>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include "ocirelay/common/json_escape.hpp"
#include "ocirelay/event/binary_cloudevent.hpp"
#include "ocirelay/event/event.hpp"
#include "ocirelay/event/event_batch.hpp"

namespace ocirelay::ingress {

namespace asio = boost::asio;
using http::error_response;
using http::json_response;
using http::method_not_allowed;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kEventsPath = "/v1/events";

constexpr std::string_view kStructuredMedia = "application/cloudevents+json";
constexpr std::string_view kBatchMedia = "application/cloudevents-batch+json";

// The media type of a Content-Type, without parameters, lowered; empty when
// there is none.
std::string media_type(std::optional<std::string_view> content_type) {
  if (!content_type) return {};
  std::string_view t = content_type->substr(0, content_type->find(';'));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  std::string lowered(t);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return lowered;
}

// CloudEvents HTTP binding: a cloudevents media type is structured (or batch)
// mode whatever headers come with it; otherwise ce-specversion marks binary
// mode, whose Content-Type is the data's and may be anything.
bool is_binary_mode(const Request& request, std::string_view media) {
  return !media.starts_with("application/cloudevents") &&
         request.headers.get("ce-specversion").has_value();
}

bool is_accepted_media(std::string_view media) {
  return media.empty() || media == "application/json" || media == kStructuredMedia ||
         media == kBatchMedia;
}

std::vector<event::CeHeader> ce_headers(const Request& request) {
  std::vector<event::CeHeader> out;
  for (const auto& [name, value] : request.headers.fields()) {
    if (name.size() > 3 && http::iequals(std::string_view(name).substr(0, 3), "ce-")) {
      out.push_back(event::CeHeader{std::string_view(name).substr(3), value});
    }
  }
  return out;
}

std::string_view status_text(storage::InsertOutcome outcome) {
  return outcome == storage::InsertOutcome::queued ? "queued" : "duplicate";
}

}  // namespace

IngressHandler::IngressHandler(IngressContext context)
    : ctx_(std::move(context)), auth_(ctx_.config.server.auth), readiness_(ctx_.shutting_down, ctx_.storage) {
  // management.listen is bound at start (a reload keeps it).
  if (!ctx_.config.management.listen) {
    management_ = std::make_unique<ManagementHandler>(ManagementContext{
        ctx_.config, ctx_.storage, ctx_.metrics, readiness_, ctx_.destination_state});
  }
}

void IngressHandler::reconfigure() { auth_ = Authenticator(ctx_.config.server.auth); }

Response IngressHandler::reject(int status, std::string_view reason_label, std::string_view message,
                                const Request& request) {
  ctx_.metrics.event_rejected(reason_label);
  ctx_.log->info("{} {} {}: {} {}", request.request_id, request.method,
                 http::target_path(request.target), status, message);
  Response r = error_response(status, message);
  if (status == 401) {
    r.headers.set("WWW-Authenticate", "Basic realm=\"ocirelay\"");
  }
  return r;
}

std::optional<Response> IngressHandler::precheck(const Request& request) {
  const std::string_view path = http::target_path(request.target);
  if (path == kEventsPath) {
    if (request.method != "POST") {
      ctx_.metrics.event_rejected("method_not_allowed");
      return method_not_allowed("POST");
    }
    if (!auth_.allows(request.headers.get("Authorization"))) {
      return reject(401, "unauthorized", "authentication required", request);
    }
    const std::string media = media_type(request.headers.get("Content-Type"));
    if (!is_accepted_media(media) && !is_binary_mode(request, media)) {
      return reject(415, "unsupported_media_type",
                    "content type must be application/json, application/cloudevents+json or "
                    "application/cloudevents-batch+json (or any, with ce-* headers: CloudEvents "
                    "binary mode)",
                    request);
    }
    return std::nullopt;
  }
  if (management_ && ManagementHandler::serves(path)) {
    return management_->precheck(request);
  }
  if (path == "/health") {
    if (request.method != "GET" && request.method != "HEAD") {
      return method_not_allowed("GET, HEAD");
    }
    return std::nullopt;
  }
  return error_response(404, "no such endpoint; events go to POST /v1/events");
}

asio::awaitable<Response> IngressHandler::handle(Request request) {
  const std::string_view path = http::target_path(request.target);
  if (path == kEventsPath) {
    const auto type = request.headers.get("X-OCI-NS-MessageType");
    if (type && http::iequals(*type, "SubscriptionConfirmation")) {
      co_return co_await confirm_subscription(request);
    }
    if (type && http::iequals(*type, "UnsubscribeConfirmation")) {
      ctx_.log->warn("{}: ONS reports the subscription was removed (unsubscribe confirmation)",
                     request.request_id);
      co_return json_response(200, R"({"status":"acknowledged"})");
    }
    co_return co_await post_event(request);
  }
  if (management_ && ManagementHandler::serves(path)) {
    co_return co_await management_->handle(std::move(request));
  }
  if (path == "/health") co_return minimal_health();
  co_return error_response(404, "no such endpoint");
}

asio::awaitable<Response> IngressHandler::confirm_subscription(Request& request) {
  std::string url;
  if (auto header = request.headers.get("X-OCI-NS-ConfirmationURL")) {
    url = std::string(*header);
  } else {
    rapidjson::Document doc;
    doc.Parse(request.body.data(), request.body.size());
    if (!doc.HasParseError() && doc.IsObject()) {
      auto it = doc.FindMember("ConfirmationURL");
      if (it != doc.MemberEnd() && it->value.IsString()) {
        url.assign(it->value.GetString(), it->value.GetStringLength());
      }
    }
  }
  if (url.empty()) {
    ctx_.metrics.confirmation("invalid");
    co_return reject(400, "invalid_confirmation", "subscription confirmation without a ConfirmationURL",
                     request);
  }
  const auto subscription = request.headers.get("X-OCI-NS-SubscriptionId").value_or("?");
  const auto topic = request.headers.get("X-OCI-NS-TopicName").value_or("?");
  auto result = co_await ctx_.confirmer.confirm(url, request.request_id);
  using Outcome = Confirmation::Outcome;
  switch (result.outcome) {
    case Outcome::confirmed:
      ctx_.metrics.confirmation("confirmed");
      ctx_.log->info("{}: confirmed ONS subscription {} to topic {} ({})", request.request_id,
                     subscription, topic, result.detail);
      co_return json_response(200, R"({"status":"confirmed"})");
    case Outcome::not_enabled:
      ctx_.metrics.confirmation("logged");
      co_return json_response(200, R"({"status":"confirmation_logged"})");
    case Outcome::refused:
      ctx_.metrics.confirmation("refused");
      ctx_.log->warn("{}: refused to confirm ONS subscription {} to topic {}: {}",
                     request.request_id, subscription, topic, result.detail);
      co_return error_response(403, "confirmation refused: " + result.detail);
    case Outcome::failed:
      break;
  }
  ctx_.metrics.confirmation("failed");
  ctx_.log->warn("{}: confirming ONS subscription {} to topic {} failed: {}; to confirm by hand, "
                 "open {}",
                 request.request_id, subscription, topic, result.detail, url);
  co_return error_response(502, "confirmation failed: " + result.detail);
}

asio::awaitable<Response> IngressHandler::post_event(Request& request) {
  const std::string media = media_type(request.headers.get("Content-Type"));
  if (media == kBatchMedia) {
    co_return co_await post_batch(request, event::BatchForm::cloudevents);
  }
  Result<event::Event> parsed = fail("no event");
  if (is_binary_mode(request, media)) {
    const auto headers = ce_headers(request);
    parsed =
        event::parse_binary_cloudevent(headers, request.headers.get("Content-Type"), request.body);
  } else if (event::is_json_array(request.body)) {
    co_return co_await post_batch(request, event::BatchForm::events);
  } else {
    parsed = event::parse_event(std::move(request.body));
  }
  if (!parsed) {
    co_return reject(400, "invalid_event", parsed.error(), request);
  }
  event::Event ev = std::move(parsed).value();
  auto decision = ctx_.router.route(ev);
  if (decision.destinations.empty()) {
    account(ev, decision, std::nullopt, request);
    co_return json_response(200, R"({"status":"filtered"})");
  }

  storage::NewEvent record;
  record.event_id = ev.event_id();
  record.event_time = ev.event_time();
  record.destinations = decision.destinations;
  record.received_at = storage::now_millis();
  record.body = ev.take_body();
  auto stored = co_await ctx_.storage.async_insert(std::move(record), asio::use_awaitable);
  if (!stored) {
    co_return storage_refused(stored.error(), request, "event " + ev.event_id());
  }
  readiness_.commit_succeeded();
  account(ev, decision, stored.value(), request);
  if (stored.value() == storage::InsertOutcome::queued && ctx_.on_queued) {
    ctx_.on_queued(decision.destinations);
  }
  co_return json_response(stored.value() == storage::InsertOutcome::queued ? 202 : 200,
                          "{\"status\":\"" + std::string(status_text(stored.value())) +
                              "\",\"eventID\":\"" + json_escape(ev.event_id()) + "\"}");
}

asio::awaitable<Response> IngressHandler::post_batch(Request& request, event::BatchForm form) {
  auto parsed = event::parse_event_batch(request.body, form, ctx_.config.server.max_batch_events);
  if (!parsed) {
    if (parsed.error().too_many) {
      co_return reject(413, "too_many_events", parsed.error().reason, request);
    }
    co_return reject(400, "invalid_event", parsed.error().reason, request);
  }
  std::vector<event::Event> events = std::move(parsed).value();

  // Each event is routed on its own; those some route takes are stored
  // together, in one transaction.
  std::vector<filter::RouteDecision> decisions;
  decisions.reserve(events.size());
  std::vector<storage::NewEvent> records;
  const storage::Millis now = storage::now_millis();
  for (event::Event& ev : events) {
    decisions.push_back(ctx_.router.route(ev));
    if (!decisions.back().destinations.empty()) {
      storage::NewEvent record;
      record.event_id = ev.event_id();
      record.event_time = ev.event_time();
      record.destinations = decisions.back().destinations;
      record.received_at = now;
      record.body = ev.take_body();
      records.push_back(std::move(record));
    }
  }
  std::vector<storage::InsertOutcome> outcomes;
  if (!records.empty()) {
    const std::size_t count = records.size();
    auto stored = co_await ctx_.storage.async_insert_many(std::move(records), asio::use_awaitable);
    if (!stored) {
      co_return storage_refused(stored.error(), request,
                                "batch of " + std::to_string(events.size()) + " events (" +
                                    std::to_string(count) + " to store)");
    }
    readiness_.commit_succeeded();
    outcomes = std::move(stored).value();
  }

  std::string body = R"({"results":[)";
  std::vector<std::string> woken;  // destinations with new work, each once
  bool any_queued = false;
  auto outcome = outcomes.begin();
  for (std::size_t i = 0; i < events.size(); ++i) {
    const event::Event& ev = events[i];
    const filter::RouteDecision& decision = decisions[i];
    std::optional<storage::InsertOutcome> stored;
    if (!decision.destinations.empty()) stored = *outcome++;
    account(ev, decision, stored, request);
    if (stored == storage::InsertOutcome::queued) {
      any_queued = true;
      for (const auto& d : decision.destinations) {
        if (std::find(woken.begin(), woken.end(), d) == woken.end()) woken.push_back(d);
      }
    }
    if (i > 0) body += ',';
    body += R"({"eventID":")" + json_escape(ev.event_id()) + R"(","status":")" +
            std::string(stored ? status_text(*stored) : "filtered") + "\"}";
  }
  body += "]}";
  if (!woken.empty() && ctx_.on_queued) ctx_.on_queued(woken);
  co_return json_response(any_queued ? 202 : 200, std::move(body));
}

void IngressHandler::account(const event::Event& ev, const filter::RouteDecision& decision,
                             std::optional<storage::InsertOutcome> stored, const Request& request) {
  const std::string& id = ev.event_id();
  if (!stored) {
    ctx_.metrics.event_filtered();
    ctx_.log->info("{}: event {} type {} filtered: no route matches", request.request_id, id,
                   ev.event_type());
    return;
  }
  if (*stored == storage::InsertOutcome::duplicate) {
    ctx_.metrics.event_duplicate();
    ctx_.log->info("{}: event {} is a duplicate; not queued again", request.request_id, id);
    return;
  }
  ctx_.metrics.event_queued();
  std::string routes;
  for (const auto& r : decision.routes) {
    ctx_.metrics.route_matched(r);
    routes += routes.empty() ? r : "," + r;
  }
  std::string destinations;
  for (const auto& d : decision.destinations) destinations += destinations.empty() ? d : "," + d;
  ctx_.log->info("{}: event {} type {} accepted: routes [{}] destinations [{}]", request.request_id,
                 id, ev.event_type(), routes, destinations);
}

Response IngressHandler::storage_refused(const storage::StoreError& error, const Request& request,
                                         const std::string& what) {
  if (error.space_refused) {
    // Storage said so once, with its figures; one line per request here.
    ctx_.log->info("{}: {} not accepted: storage full", request.request_id, what);
  } else {
    readiness_.commit_failed();
    ctx_.log->error("{}: {} not accepted: storage cannot commit: {}", request.request_id, what,
                    error.message);
  }
  ctx_.metrics.event_rejected(error.disk_full ? "storage_full" : "storage_unavailable");
  Response r = error_response(
      503, error.disk_full ? "storage full; retry later" : "storage unavailable; retry later");
  r.headers.set("Retry-After", "30");
  return r;
}

Response IngressHandler::minimal_health() const {
  if (readiness_.not_ready_reason()) return json_response(503, R"({"status":"unavailable"})");
  return json_response(200, R"({"status":"ok"})");
}

}  // namespace ocirelay::ingress
