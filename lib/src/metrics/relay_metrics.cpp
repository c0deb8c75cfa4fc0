#include "ocirelay/metrics/relay_metrics.hpp"

#include <algorithm>

namespace ocirelay::metrics {

namespace {

constexpr const char* kReceived = "ocirelay_events_received_total";
constexpr const char* kReceivedHelp = "Events received on the ingress, by result";

const std::vector<double>& latency_bounds() {
  static const std::vector<double> b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                     0.25,  0.5,    1,     2.5,  5,     10,   30,
                                     60,    300,    900,   3600, 21600, 86400};
  return b;
}

std::string status_class(int status) {
  if (status <= 0) return "error";
  return std::to_string(status / 100) + "xx";
}

constexpr const char* kRequests = "ocirelay_delivery_requests_total";
constexpr const char* kRequestsHelp =
    "Requests sent to each destination (one per event, or one per batch), by HTTP status class";
constexpr const char* kEvents = "ocirelay_delivered_events_total";
constexpr const char* kEventsHelp = "Events delivered to each destination (2xx answers)";
constexpr const char* kBilled = "ocirelay_oic_billed_messages_total";
constexpr const char* kBilledHelp =
    "Oracle Integration messages the delivered requests count as: ceil(body bytes / 50 KiB) each";
constexpr std::uint64_t kBilledUnit = 50 * 1024;

}  // namespace

RelayMetrics::RelayMetrics(Registry& registry, const std::string& version)
    : registry_(registry),
      queued_(registry.counter(kReceived, kReceivedHelp, {{"result", "queued"}})),
      filtered_(registry.counter(kReceived, kReceivedHelp, {{"result", "filtered"}})),
      duplicate_(registry.counter(kReceived, kReceivedHelp, {{"result", "duplicate"}})),
      commit_seconds_(registry.histogram(
          "ocirelay_storage_commit_seconds", "Time to commit a group of storage writes (fsync)",
          {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5})),
      commit_failures_(registry.counter("ocirelay_storage_commit_failures_total",
                                        "Storage commits that failed")),
      storage_free_(registry.gauge("ocirelay_storage_free_bytes",
                                   "Free space on the storage file system, as last measured")),
      storage_database_(registry.gauge("ocirelay_storage_database_bytes",
                                       "Size of the storage database: main file and WAL")),
      storage_reusable_(
          registry.gauge("ocirelay_storage_reusable_bytes",
                         "Free pages inside the storage database, which new events reuse first")),
      storage_reserve_(
          registry.gauge("ocirelay_storage_reserve_bytes",
                         "Free space kept for delivery bookkeeping (storage.reserve)")),
      storage_full_(registry.gauge(
          "ocirelay_storage_full",
          "1 while new events are refused for lack of space (storage.reserve or max_size)")) {
  registry.gauge("ocirelay_build_info", "Build information; always 1", {{"version", version}})
      .set(1);
}

void RelayMetrics::event_rejected(std::string_view reason) {
  registry_.counter(kReceived, kReceivedHelp, {{"result", "rejected"}}).inc();
  registry_
      .counter("ocirelay_events_rejected_total", "Events refused at the ingress, by reason",
               {{"reason", std::string(reason)}})
      .inc();
}

void RelayMetrics::route_matched(const std::string& route) {
  std::lock_guard lock(cache_mutex_);
  auto it = routes_.find(route);
  if (it == routes_.end()) {
    Counter& counter = registry_.counter("ocirelay_route_matches_total",
                                         "Events that matched each route", {{"route", route}});
    it = routes_.emplace(route, &counter).first;
  }
  it->second->inc();
}

RelayMetrics::DestinationSeries& RelayMetrics::series(const std::string& destination) {
  auto it = destinations_.find(destination);
  if (it != destinations_.end()) return it->second;
  const Labels labels{{"destination", destination}};
  DestinationSeries s;
  s.latency = &registry_.histogram("ocirelay_delivery_latency_seconds",
                                   "Time from accepting an event to its delivery", latency_bounds(),
                                   labels);
  s.attempts =
      &registry_.histogram("ocirelay_delivery_attempts", "Attempts an event needed to be delivered",
                           {1, 2, 3, 5, 10, 20, 50, 100}, labels);
  s.request_events = &registry_.histogram("ocirelay_delivery_request_events",
                                          "Events carried by each request sent",
                                          {1, 2, 5, 10, 20, 35, 50, 100, 200, 500, 1000}, labels);
  s.events = &registry_.counter(kEvents, kEventsHelp, labels);
  s.billed = &registry_.counter(kBilled, kBilledHelp, labels);
  return destinations_.emplace(destination, std::move(s)).first->second;
}

void RelayMetrics::delivery(const std::string& destination, std::string_view outcome, int status) {
  const std::string status_cls = status_class(status);
  std::lock_guard lock(cache_mutex_);
  DestinationSeries& s = series(destination);
  std::string key(outcome);
  key += ' ';
  key += status_cls;
  auto it = s.attempts_by.find(key);
  if (it == s.attempts_by.end()) {
    Counter& counter =
        registry_.counter("ocirelay_delivery_attempts_total",
                          "Delivery attempts by destination, outcome and HTTP status class",
                          {{"destination", destination},
                           {"outcome", std::string(outcome)},
                           {"status_class", status_cls}});
    it = s.attempts_by.emplace(std::move(key), &counter).first;
  }
  it->second->inc();
}

void RelayMetrics::delivered_latency(const std::string& destination, double seconds, int attempts) {
  std::lock_guard lock(cache_mutex_);
  DestinationSeries& s = series(destination);
  s.latency->observe(seconds);
  s.attempts->observe(attempts);
}

void RelayMetrics::delivery_request(const std::string& destination, int status, std::size_t events,
                                    std::size_t body_bytes) {
  const std::string status_cls = status_class(status);
  std::lock_guard lock(cache_mutex_);
  DestinationSeries& s = series(destination);
  auto it = s.requests_by.find(status_cls);
  if (it == s.requests_by.end()) {
    Counter& counter = registry_.counter(
        kRequests, kRequestsHelp, {{"destination", destination}, {"status_class", status_cls}});
    it = s.requests_by.emplace(status_cls, &counter).first;
  }
  it->second->inc();
  s.request_events->observe(static_cast<double>(events));
  if (status < 200 || status > 299) return;
  s.events->inc(events);
  s.billed->inc(std::max<std::uint64_t>(1, (body_bytes + kBilledUnit - 1) / kBilledUnit));
}

void RelayMetrics::batch_oversized(const std::string& destination) {
  registry_
      .counter("ocirelay_batch_oversized_events_total",
               "Events larger than the destination's batch max_bytes, sent alone",
               {{"destination", destination}})
      .inc();
}

RelayMetrics::Billing RelayMetrics::billing(const std::string& destination) {
  Billing b;
  b.events = registry_.counter(kEvents, kEventsHelp, {{"destination", destination}}).value();
  b.messages = registry_.counter(kBilled, kBilledHelp, {{"destination", destination}}).value();
  return b;
}

void RelayMetrics::confirmation(std::string_view result) {
  registry_
      .counter("ocirelay_ons_confirmations_total", "ONS subscription confirmations, by result",
               {{"result", std::string(result)}})
      .inc();
}

void RelayMetrics::destination_state(const std::string& destination, std::string_view state) {
  for (const char* s : {"healthy", "paused", "probing"}) {
    registry_
        .gauge("ocirelay_destination_state",
               "Delivery state of each destination: 1 for the current state",
               {{"destination", destination}, {"state", s}})
        .set(state == s ? 1 : 0);
  }
}

void RelayMetrics::set_queue(const std::string& destination, double pending, double inflight,
                             double dead, double oldest_age_seconds) {
  const Labels l{{"destination", destination}};
  registry_.gauge("ocirelay_queue_depth", "Deliveries waiting, per destination", l).set(pending);
  registry_.gauge("ocirelay_deliveries_in_flight", "Deliveries in flight, per destination", l)
      .set(inflight);
  registry_.gauge("ocirelay_dead_letters", "Dead-lettered deliveries kept in storage", l).set(dead);
  registry_
      .gauge("ocirelay_oldest_queued_age_seconds",
             "Age of the oldest event waiting for delivery, per destination", l)
      .set(oldest_age_seconds);
}

void RelayMetrics::on_space(const StorageSpace& space) {
  storage_free_.set(static_cast<double>(space.free));
  storage_database_.set(static_cast<double>(space.database));
  storage_reusable_.set(static_cast<double>(space.reusable));
  storage_reserve_.set(static_cast<double>(space.reserve));
  storage_full_.set(space.full ? 1 : 0);
}

void RelayMetrics::on_commit([[maybe_unused]] std::size_t events, double seconds, bool ok) {
  commit_seconds_.observe(seconds);
  if (!ok) commit_failures_.inc();
}

}  // namespace ocirelay::metrics
