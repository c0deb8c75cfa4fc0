// The relay's internals, for operators and monitoring, never for senders:
//   GET /health   liveness, version, uptime and per-destination queue figures
//   GET /ready    200 when the relay accepts events, else 503 with the reason
//   GET /metrics  Prometheus text format
// HEAD is answered like GET, without the body. Served by the management
// listener (`management.listen`); with `management.listen: ""` the ingress
// handler passes these paths to one of its own.
// As the handler of the management listener, every method but GET and HEAD
// gets 405 (Allow: GET, HEAD) whatever the path, before its body is read, and
// other paths 404.
//
// Thread and lifetime contract: runs on the server's single-threaded
// executor; everything the context refers to must outlive it.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "ocirelay/config/config.hpp"
#include "ocirelay/http/handler.hpp"
#include "ocirelay/ingress/readiness.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace ocirelay::ingress {

struct ManagementContext {
  // Read at each request: a reload replaces it in place.
  const config::Config& config;
  storage::StorageWorker& storage;
  metrics::RelayMetrics& metrics;
  const Readiness& readiness;
  // The delivery state of a destination ("healthy", "paused", "probing").
  std::function<std::string(const std::string& destination)> destination_state;
};

class ManagementHandler final : public http::Handler {
 public:
  explicit ManagementHandler(ManagementContext context);

  // True for /health, /ready and /metrics (`path` without the query).
  static bool serves(std::string_view path) noexcept;

  std::optional<http::Response> precheck(const http::Request& request) override;
  boost::asio::awaitable<http::Response> handle(http::Request request) override;

 private:
  boost::asio::awaitable<http::Response> health();
  http::Response ready() const;
  boost::asio::awaitable<http::Response> metrics();

  ManagementContext ctx_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace ocirelay::ingress
