#include "ocirelay/ingress/management_handler.hpp"

#include <algorithm>
#include <utility>

#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/common/json_escape.hpp"
#include "ocirelay_version.hpp"

namespace ocirelay::ingress {

namespace asio = boost::asio;
using http::error_response;

using http::json_response;
using http::Request;
using http::Response;

ManagementHandler::ManagementHandler(ManagementContext context) : ctx_(std::move(context)) {}

bool ManagementHandler::serves(std::string_view path) noexcept {
  return path == "/health" || path == "/ready" || path == "/metrics";
}

std::optional<Response> ManagementHandler::precheck(const Request& request) {
  if (request.method != "GET" && request.method != "HEAD") {
    return http::method_not_allowed("GET, HEAD");
  }
  if (!serves(http::target_path(request.target))) {
    return error_response(404,
                          "no such endpoint; this is the management endpoint: GET /health, "
                          "/ready or /metrics");
  }
  return std::nullopt;
}

asio::awaitable<Response> ManagementHandler::handle(Request request) {
  const std::string_view path = http::target_path(request.target);
  if (path == "/health") co_return co_await health();
  if (path == "/ready") co_return ready();
  if (path == "/metrics") co_return co_await metrics();
  co_return error_response(404, "no such endpoint");
}

asio::awaitable<Response> ManagementHandler::health() {
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count();
  auto stats = co_await ctx_.storage.async_stats(asio::use_awaitable);
  const storage::Millis now = storage::now_millis();
  // Appended piece by piece: GCC 12 at -O3 warns (falsely) about chains of
  // std::string operator+ here.
  std::string body = "{\"status\":\"";
  body += stats ? "ok" : "degraded";
  body += "\",\"version\":\"";
  body += kVersion;
  body += "\",\"uptime_seconds\":";
  body += std::to_string(uptime);
  body += ",\"destinations\":{";
  bool first = true;
  for (const auto& dest : ctx_.config.destinations) {
    std::int64_t queued = 0;
    double oldest = 0;
    std::int64_t dead = 0;
    if (stats) {
      for (const auto& s : stats.value()) {
        if (s.destination != dest.name) continue;
        queued = s.pending + s.inflight;
        dead = s.dead;
        if (s.oldest_received_at)
          oldest = static_cast<double>(now - *s.oldest_received_at) / 1000.0;
      }
    }
    if (!first) body += ",";
    first = false;
    body += "\"";
    body += json_escape(dest.name);
    body += "\":{\"state\":\"";
    body += ctx_.destination_state ? ctx_.destination_state(dest.name) : std::string("unknown");
    body += "\",\"queued\":";
    body += std::to_string(queued);
    body += ",\"oldest_queued_age_seconds\":";
    body += std::to_string(std::max(0.0, oldest));
    body += ",\"dead_letters\":";
    body += std::to_string(dead);
    body += "}";
  }
  body += "}";
  if (!stats) {
    body += ",\"error\":\"";
    body += json_escape(stats.error().message);
    body += "\"";
  }
  if (const auto reason = ctx_.readiness.not_ready_reason()) {
    body += ",\"not_ready\":\"";
    body += json_escape(*reason);
    body += "\"";
  }
  body += "}";
  co_return json_response(200, std::move(body));
}

Response ManagementHandler::ready() const {
  if (auto reason = ctx_.readiness.not_ready_reason()) return error_response(503, *reason);
  return json_response(200, R"({"status":"ready"})");
}

asio::awaitable<Response> ManagementHandler::metrics() {
  auto stats = co_await ctx_.storage.async_stats(asio::use_awaitable);
  if (stats) {
    const storage::Millis now = storage::now_millis();
    for (const auto& dest : ctx_.config.destinations) {
      storage::DestinationStats s;
      for (const auto& x : stats.value()) {
        if (x.destination == dest.name) s = x;
      }
      const double age =
          s.oldest_received_at ? static_cast<double>(now - *s.oldest_received_at) / 1000.0 : 0.0;
      ctx_.metrics.set_queue(dest.name, static_cast<double>(s.pending),
                             static_cast<double>(s.inflight), static_cast<double>(s.dead),
                             std::max(0.0, age));
    }
  }
  Response r;
  r.status = 200;
  r.headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  r.body = ctx_.metrics.registry().render();
  co_return r;
}

}  // namespace ocirelay::ingress
