#include "ocirelay/ingress/ingress_handler.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include "ocirelay/common/json_escape.hpp"
#include "ocirelay/event/event.hpp"

namespace ocirelay::ingress {

namespace asio = boost::asio;
using http::error_response;
using http::json_response;
using http::method_not_allowed;
using http::Request;
using http::Response;

namespace {

constexpr std::string_view kEventsPath = "/v1/events";

bool is_json_content_type(std::optional<std::string_view> type) {
  if (!type) return true;
  std::string_view t = *type;
  t = t.substr(0, t.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  while (!t.empty() && t.front() == ' ') t.remove_prefix(1);
  return t.empty() || http::iequals(t, "application/json") ||
         http::iequals(t, "application/cloudevents+json");
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
    if (!is_json_content_type(request.headers.get("Content-Type"))) {
      return reject(415, "unsupported_media_type",
                    "content type must be application/json or application/cloudevents+json",
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
  auto parsed = event::parse_event(std::move(request.body));
  if (!parsed) {
    co_return reject(400, "invalid_event", parsed.error(), request);
  }
  event::Event ev = std::move(parsed).value();
  const std::string& id = ev.event_id();
  auto decision = ctx_.router.route(ev);
  if (decision.destinations.empty()) {
    ctx_.metrics.event_filtered();
    ctx_.log->info("{}: event {} type {} filtered: no route matches", request.request_id, id,
                   ev.event_type());
    co_return json_response(200, R"({"status":"filtered"})");
  }

  storage::NewEvent record;
  record.event_id = id;
  record.destinations = decision.destinations;
  record.received_at = storage::now_millis();
  record.body = ev.take_body();
  auto stored = co_await ctx_.storage.async_insert(std::move(record), asio::use_awaitable);
  if (!stored) {
    const storage::StoreError& error = stored.error();
    if (error.space_refused) {
      // Storage said so once, with its figures; one line per event here.
      ctx_.log->info("{}: event {} not accepted: storage full", request.request_id, id);
    } else {
      readiness_.commit_failed();
      ctx_.log->error("{}: event {} not accepted: storage cannot commit: {}", request.request_id,
                      id, error.message);
    }
    ctx_.metrics.event_rejected(error.disk_full ? "storage_full" : "storage_unavailable");
    Response r = error_response(
        503, error.disk_full ? "storage full; retry later" : "storage unavailable; retry later");
    r.headers.set("Retry-After", "30");
    co_return r;
  }
  readiness_.commit_succeeded();
  const std::string body_id = "\"eventID\":\"" + json_escape(id) + "\"";
  if (stored.value() == storage::InsertOutcome::duplicate) {
    ctx_.metrics.event_duplicate();
    ctx_.log->info("{}: event {} is a duplicate; not queued again", request.request_id, id);
    co_return json_response(200, "{\"status\":\"duplicate\"," + body_id + "}");
  }
  ctx_.metrics.event_queued();
  std::string routes;
  for (const auto& r : decision.routes) {
    ctx_.metrics.route_matched(r);
    routes += routes.empty() ? r : "," + r;
  }
  std::string destinations;
  for (const auto& d : decision.destinations) destinations += destinations.empty() ? d : "," + d;
  ctx_.log->info("{}: event {} type {} accepted: routes [{}] destinations [{}]",
                 request.request_id, id, ev.event_type(), routes, destinations);
  if (ctx_.on_queued) ctx_.on_queued(decision.destinations);
  co_return json_response(202, "{\"status\":\"queued\"," + body_id + "}");
}

Response IngressHandler::minimal_health() const {
  if (readiness_.not_ready_reason()) return json_response(503, R"({"status":"unavailable"})");
  return json_response(200, R"({"status":"ok"})");
}

}  // namespace ocirelay::ingress
