// The relay's HTTP endpoints:
//   POST /v1/events  ONS notifications and confirmations, Functions-style raw
//                    events; answered 202 only once the event is committed.
//   GET  /health     liveness and per-destination queue figures (no auth).
//   GET  /ready      200 when storage is writable, not refusing new events for
//                    lack of space, and not shutting down.
//   GET  /metrics    Prometheus text format.
//
// Thread and lifetime contract: runs on the server's single-threaded
// executor; everything passed to the constructor must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/config/config.hpp"
#include "ocirelay/filter/route.hpp"
#include "ocirelay/http/handler.hpp"
#include "ocirelay/ingress/authenticator.hpp"
#include "ocirelay/ingress/ons_confirmer.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::ingress {

struct IngressContext {
  const config::Config& config;
  const filter::Router& router;
  storage::StorageWorker& storage;
  OnsConfirmer& confirmer;
  metrics::RelayMetrics& metrics;
  // Told which destinations have new work once an event is committed.
  std::function<void(const std::vector<std::string>&)> on_queued;
  // True once shutdown has begun (/ready answers 503).
  std::function<bool()> shutting_down;
  // The delivery state of a destination ("healthy", "paused", "probing").
  std::function<std::string(const std::string& destination)> destination_state;
  std::shared_ptr<spdlog::logger> log;
};

class IngressHandler final : public http::Handler {
 public:
  explicit IngressHandler(IngressContext context);

  // After a configuration reload replaced the configuration and router the
  // context refers to (in place): rebuilds what was derived from them.
  void reconfigure();

  std::optional<http::Response> precheck(const http::Request& request) override;
  boost::asio::awaitable<http::Response> handle(http::Request request) override;

 private:
  boost::asio::awaitable<http::Response> post_event(http::Request& request);
  boost::asio::awaitable<http::Response> confirm_subscription(http::Request& request);
  boost::asio::awaitable<http::Response> health();
  boost::asio::awaitable<http::Response> ready();
  boost::asio::awaitable<http::Response> metrics();
  http::Response reject(int status, std::string_view reason_label, std::string_view message,
                        const http::Request& request);

  IngressContext ctx_;
  Authenticator auth_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  // When the last commit failed; /ready answers 503 for kStorageFailureHold
  // after it (as long as no commit has succeeded since), then lets traffic
  // try again, so a relay that recovered is not kept out of rotation forever.
  std::optional<std::chrono::steady_clock::time_point> storage_failed_at_;
};

}  // namespace ocirelay::ingress
