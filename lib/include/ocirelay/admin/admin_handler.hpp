// The admin API, served on the admin Unix socket (config `admin.socket`) for
// ocirelayctl, so the daemon stays the only writer of its storage. JSON in
// and out; errors are {"error": "..."} with 400 (bad parameter), 404 (no such
// dead letter or path), 405, 409 (replay to a destination that is no longer
// configured) or 500 (storage failed).
//
//   GET    /v1/queue/stats                        per destination: queued,
//          in_flight, dead, oldest_age_seconds, state
//   GET    /v1/dlq[?destination=D][&limit=N]      dead letters, oldest first
//   GET    /v1/dlq/ID                             one, with its event body
//   POST   /v1/dlq/ID/replay                      back to the head of its queue
//   POST   /v1/dlq/replay[?destination=D]         all (of D) the same way
//   DELETE /v1/dlq/ID                             purge one
//   DELETE /v1/dlq[?destination=D][&older_than=7d]  purge all (of D) (dead
//          for longer than that)
//
// A replay wakes the destination's dispatcher, so the event goes out at once
// unless the destination is paused. Replaying "all" without a destination
// replays those of the configured destinations only: dead letters of a
// destination removed from the configuration could never be delivered.
//
// Thread and lifetime contract: runs on the server's single-threaded
// executor; the StorageWorker, the functions' targets and the logger outlive
// it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "ocirelay/http/handler.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::admin {

struct AdminContext {
  storage::StorageWorker& storage;
  // The configured destinations, in configuration order.
  std::vector<std::string> destinations;
  // The delivery state of a destination ("healthy", "paused", "probing").
  std::function<std::string(const std::string& destination)> destination_state;
  // Told which destinations have work again after a replay.
  std::function<void(const std::vector<std::string>& destinations)> on_replayed;
  std::shared_ptr<spdlog::logger> log;
  // Events delivered to a destination and the Oracle Integration messages
  // they were billed as, since the start (none: not shown).
  struct Billing {
    std::uint64_t events = 0;
    std::uint64_t messages = 0;
  };
  std::function<Billing(const std::string& destination)> destination_billing = {};
};

class AdminHandler final : public http::Handler {
 public:
  explicit AdminHandler(AdminContext context);
  // A configuration reload changed the configured destinations.
  void set_destinations(std::vector<std::string> destinations) {
    ctx_.destinations = std::move(destinations);
  }

  // 404 and 405 before any body is read (the API takes no bodies).
  std::optional<http::Response> precheck(const http::Request& request) override;
  boost::asio::awaitable<http::Response> handle(http::Request request) override;

 private:
  boost::asio::awaitable<http::Response> queue_stats(const http::Request& request);
  boost::asio::awaitable<http::Response> list(const http::Request& request);
  boost::asio::awaitable<http::Response> show(const http::Request& request, std::int64_t id);
  boost::asio::awaitable<http::Response> replay(const http::Request& request,
                                                std::optional<std::int64_t> id);
  boost::asio::awaitable<http::Response> purge(const http::Request& request,
                                               std::optional<std::int64_t> id);
  bool configured(const std::string& destination) const;

  AdminContext ctx_;
};

}  // namespace ocirelay::admin
