// The relay's ingress endpoints, reachable by senders:
//   POST /v1/events  ONS notifications and confirmations, Functions-style raw
//                    events, CloudEvents (structured, binary or batch mode),
//                    JSON arrays of events (Service Connector Hub batches);
//                    answered 202 only once the events are committed.
//   GET  /health     for a load balancer's health check (no auth): 200
//                    {"status":"ok"} when the relay accepts events, else 503
//                    {"status":"unavailable"}; nothing more.
// /metrics, /ready and the detailed /health are the management listener's
// (ManagementHandler). With `management.listen: ""` there is none, and this
// handler serves those three paths itself, the detailed /health included.
//
// Thread and lifetime contract: runs on the server's single-threaded
// executor; everything passed to the constructor must outlive it.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/config/config.hpp"
#include "ocirelay/event/event_batch.hpp"
#include "ocirelay/filter/route.hpp"
#include "ocirelay/http/handler.hpp"
#include "ocirelay/ingress/authenticator.hpp"
#include "ocirelay/ingress/management_handler.hpp"
#include "ocirelay/ingress/ons_confirmer.hpp"
#include "ocirelay/ingress/readiness.hpp"
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
  // True once shutdown has begun (not ready: /ready and /health answer 503).
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

  // Whether events are accepted, for the management listener's /ready.
  const Readiness& readiness() const noexcept { return readiness_; }

  std::optional<http::Response> precheck(const http::Request& request) override;
  boost::asio::awaitable<http::Response> handle(http::Request request) override;

 private:
  boost::asio::awaitable<http::Response> post_event(http::Request& request);
  // A JSON array of events: each routed on its own, all stored in one
  // transaction, answered with one result per event in input order.
  boost::asio::awaitable<http::Response> post_batch(http::Request& request, event::BatchForm form);
  boost::asio::awaitable<http::Response> confirm_subscription(http::Request& request);
  // Metrics and the log line for one event once its fate is known: filtered
  // (no `stored`), queued or duplicate.
  void account(const event::Event& ev, const filter::RouteDecision& decision,
               std::optional<storage::InsertOutcome> stored, const http::Request& request);
  // The 503 answer when storage did not take `what`.
  http::Response storage_refused(const storage::StoreError& error, const http::Request& request,
                                 const std::string& what);
  http::Response minimal_health() const;
  http::Response reject(int status, std::string_view reason_label, std::string_view message,
                        const http::Request& request);

  IngressContext ctx_;
  Authenticator auth_;
  Readiness readiness_;
  // Set when there is no management listener: serves its paths here.
  std::unique_ptr<ManagementHandler> management_;
};

}  // namespace ocirelay::ingress
