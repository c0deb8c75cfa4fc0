// The relay's own metrics, named after Prometheus conventions, over a
// Registry. Fixed label sets are created up front; per-route and
// per-destination series on first use, and kept: recording one again looks
// it up by name under a mutex of this class, without building its label set
// or taking the registry's lock (the accept path records a route per event,
// the delivery path several series per request).
//
// Thread contract: as Registry: any thread may record.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "ocirelay/metrics/registry.hpp"
#include "ocirelay/metrics/storage_observer.hpp"

namespace ocirelay::metrics {

class RelayMetrics : public StorageObserver {
 public:
  RelayMetrics(Registry& registry, const std::string& version);

  Registry& registry() noexcept { return registry_; }

  // result: queued, filtered, duplicate, rejected (with a reason).
  void event_queued() noexcept { queued_.inc(); }
  void event_filtered() noexcept { filtered_.inc(); }
  void event_duplicate() noexcept { duplicate_.inc(); }
  void event_rejected(std::string_view reason);
  void route_matched(const std::string& route);

  // outcome: delivered, retry, dead; status 0 for connection errors.
  void delivery(const std::string& destination, std::string_view outcome, int status);
  void delivered_latency(const std::string& destination, double seconds, int attempts);
  // One request to a destination carrying `events` events (1 unbatched),
  // answered with `status` (0: no answer). A 2xx delivered the `body_bytes`
  // bytes, which Oracle Integration bills as ceil(body_bytes / 50 KiB)
  // messages.
  void delivery_request(const std::string& destination, int status, std::size_t events,
                        std::size_t body_bytes);
  // An event larger than the destination's batch max_bytes, sent alone.
  void batch_oversized(const std::string& destination);
  // Totals for `ocirelayctl queue stats`: events delivered and billed
  // messages, counted since the start.
  struct Billing {
    std::uint64_t events = 0;
    std::uint64_t messages = 0;
  };
  Billing billing(const std::string& destination);
  void confirmation(std::string_view result);
  // One gauge per state, 1 for the current one.
  void destination_state(const std::string& destination, std::string_view state);

  // Gauges refreshed from storage when /metrics is scraped.
  void set_queue(const std::string& destination, double pending, double inflight, double dead,
                 double oldest_age_seconds);

  // StorageObserver
  void on_commit(std::size_t events, double seconds, bool ok) override;
  void on_space(const StorageSpace& space) override;

 private:
  // The series of one destination, as they are first recorded.
  struct DestinationSeries {
    Histogram* latency = nullptr;
    Histogram* attempts = nullptr;
    Histogram* request_events = nullptr;
    Counter* events = nullptr;
    Counter* billed = nullptr;
    // Attempts by "<outcome> <status class>" (short enough to need no
    // allocation); requests by status class.
    std::map<std::string, Counter*, std::less<>> attempts_by;
    std::map<std::string, Counter*, std::less<>> requests_by;
  };
  // Under cache_mutex_.
  DestinationSeries& series(const std::string& destination);

  Registry& registry_;
  std::mutex cache_mutex_;
  std::map<std::string, Counter*, std::less<>> routes_;                 // under cache_mutex_
  std::map<std::string, DestinationSeries, std::less<>> destinations_;  // under cache_mutex_
  Counter& queued_;
  Counter& filtered_;
  Counter& duplicate_;
  Histogram& commit_seconds_;
  Counter& commit_failures_;
  Gauge& storage_free_;
  Gauge& storage_database_;
  Gauge& storage_reusable_;
  Gauge& storage_reserve_;
  Gauge& storage_full_;
};

}  // namespace ocirelay::metrics
