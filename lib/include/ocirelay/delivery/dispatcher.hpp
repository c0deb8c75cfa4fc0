// Delivers the queued events of one destination: takes due deliveries from
// storage (oldest first), POSTs each event body unchanged with
// `Idempotency-Key: <eventID>`, and records the outcome (delivered rows are
// removed; failures are retried with backoff and jitter until max_age, then
// dead-lettered; statuses that cannot succeed are dead-lettered at once).
// Each destination has its own Dispatcher, HTTP client and concurrency, so
// one failing destination never delays another.
//
// Batching (destination `batch:` with max_events > 1): the waiting events go
// in batches (cut_batch: up to max_events, the body within max_bytes; a batch
// that is not full waits until its oldest event has waited max_wait), one
// request each with the batch's key. A batch is one attempt: its events are
// delivered or dead-lettered one by one, or retried together as the same
// batch, held in memory with their rows inflight until the retry is due
// (recorded as retries in storage if the dispatcher stops first). On a
// shared queue a batch to be retried goes back to storage at once instead,
// so that another relay, which may reach the destination, can take it.
//
// Destination health: when an attempt fails in a way that says the
// destination is unwell (no response, 408, 429, 5xx, 401, 403, 404), the
// whole destination pauses (initial_backoff doubling up to max_backoff, with
// jitter, at least Retry-After on 429/503), then probes with one request at a
// time; a success restores full concurrency. So a dead OIC sees about one
// request per pause interval however many events wait, and the backlog then
// drains oldest first at `concurrency` and `rate_limit`.
//
// On a queue several relays share (DeliveryQueue::shared, PostgreSQL), the
// dispatcher claims only as many deliveries as it has free slots (none while
// paused), instead of reading ahead, so that another relay sends what this
// one cannot; notify() is then also called when another relay queued events.
// A delivery whose claim ran out while this dispatcher still held it (no
// renewal for longer than the lease) and that a fetch claims again is not
// sent a second time: the copy held goes on under the new claim.
//
// The decisions are made by value types that take time as an argument
// (DestinationHealth, RateLimiter, plan_attempt); the Dispatcher feeds them
// its clock's readings and carries them out through its DeliveryQueue and
// Sender. assemble() takes those collaborators, so that tests can run it on
// an io_context with a queue, a sender and a clock of their own.
//
// Thread and lifetime contract: runs on one single-threaded executor; every
// member is called on it. The StorageWorker, metrics and logger outlive it.
// Every coroutine it starts belongs to its task group: drain() joins them, and
// must have completed before destruction. Deliveries still running when the
// drain deadline passes are aborted (terminal cancellation, connections
// closed) and stay inflight in storage, to be released (by
// StorageWorker::async_release_inflight) before storage closes. Results that
// storage fails to record while stopping are tried again until that
// deadline; those of deliveries the destination accepted that still are not
// recorded then are logged as possible duplicates, with their event IDs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/delivery/delivery_clock.hpp"
#include "ocirelay/delivery/delivery_queue.hpp"
#include "ocirelay/delivery/sender.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::delivery {

class Dispatcher {
 public:
  // Fails when the URL is invalid or the TLS files cannot be loaded.
  static Result<std::unique_ptr<Dispatcher>> create(boost::asio::any_io_executor executor,
                                                    const config::Destination& destination,
                                                    storage::StorageWorker& storage,
                                                    metrics::RelayMetrics& metrics,
                                                    std::shared_ptr<spdlog::logger> log);

  // What create() builds from the destination and the storage.
  struct Collaborators {
    std::unique_ptr<DeliveryQueue> queue;  // the destination's queue
    std::unique_ptr<Sender> sender;        // sends one attempt
    DeliveryClock clock;                   // default: the real clocks
    // Backoff jitter, in [0, 1); empty: a randomly seeded generator.
    std::function<double()> unit_random;
  };
  // A dispatcher over the given queue and sender (both required). `clock` is
  // what pauses, the rate limit, retry times and ages are decided by; the
  // timer between looks at the queue runs in real time (for as long as
  // `clock` says to wait), and so does the drain deadline. After moving a
  // simulated clock, notify() makes the dispatcher look again.
  static std::unique_ptr<Dispatcher> assemble(boost::asio::any_io_executor executor,
                                              const config::Destination& destination,
                                              Collaborators collaborators,
                                              metrics::RelayMetrics& metrics,
                                              std::shared_ptr<spdlog::logger> log);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  const std::string& name() const noexcept;
  // "healthy" (full concurrency), "paused" (after failures, nothing is sent
  // until the pause ends) or "probing" (one request at a time).
  const char* state() const noexcept;

  void start();
  // New work may be due (an event was just queued for this destination).
  void notify();
  // Stops taking work; deliveries in flight go on.
  void stop();
  // Stops, then waits for the deliveries in flight until the deadline, or
  // until the awaiting coroutine is cancelled (a forced shutdown); then aborts
  // the deliveries still running: they are not recorded and stay inflight in
  // storage until released. Completes when every task of the dispatcher has
  // ended; false only if some did not within a short grace after the abort (a
  // bug; logged). Several drains may wait at once.
  boost::asio::awaitable<bool> drain(std::chrono::steady_clock::time_point deadline);
  std::size_t in_flight() const noexcept;
  // Appends the claim tokens (storage::Delivery::claim, not 0) of the
  // deliveries this dispatcher holds in memory: taken and not yet sent,
  // being sent, held for a batch's retry, or with their result being
  // recorded. The relay renews the lease of those claims only
  // (Store::renew_claims). Called on the dispatcher's executor, like every
  // member; a retired dispatcher still draining reports its own.
  void held_claims(std::vector<std::int64_t>& out) const;

  class Impl;

 private:
  explicit Dispatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocirelay::delivery
