#include "ocirelay/storage/storage_worker.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <spdlog/logger.h>

#include "ocirelay/common/size.hpp"

namespace ocirelay::storage {

namespace {

constexpr auto kMeasurePeriod = std::chrono::seconds(1);
// While new events are refused for space, an insert looks again if the last
// measurement is older than this, so the relay reopens as soon as space is
// back instead of at the next periodic measurement.
constexpr auto kClosedRemeasure = std::chrono::milliseconds(100);
// Attempt results alone (no insert, no call waiting) commit at most once per
// results_linger, unless kResultsBatch of them are waiting.
constexpr std::size_t kResultsBatch = 256;

// A generous estimate of what an insert batch adds to the database: the
// bodies, the event ID in three places, and rows and index entries.
std::uint64_t estimate_bytes(const std::vector<NewEvent>& events) {
  std::uint64_t bytes = 0;
  for (const NewEvent& e : events) {
    bytes += e.body.size() + 3 * e.event_id.size() + 128 * (e.destinations.size() + 2);
  }
  return bytes;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs a store call, turning an escaped exception (only std::bad_alloc is
// possible: stores return their errors) into a StoreError.
template <class Fn>
auto guarded(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return fail(StoreError{std::string("internal error: ") + e.what(), false});
  }
}

}  // namespace

StorageWorker::StorageWorker(std::unique_ptr<Store> store, std::shared_ptr<spdlog::logger> log,
                             metrics::StorageObserver* observer, SpaceLimits limits,
                             std::chrono::milliseconds results_linger)
    : store_(std::move(store)),
      log_(std::move(log)),
      observer_(observer),
      guard_(limits),
      results_linger_(results_linger) {
  measures_space_ = store_ && store_->measures_space();
  shared_ = store_ && store_->shared();
  if (measures_space_) {
    measure_space(false);  // before the thread starts: the store is still ours
  }
  thread_ = std::thread([this] { run(); });
}

StorageWorker::~StorageWorker() { stop(); }

void StorageWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  // From the storage thread itself (a call that stops its worker) there is
  // nothing to wait for: the loop ends once the queue is empty.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void StorageWorker::submit(Op op) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      // Results that would only join the ones waiting leave the worker
      // asleep: a wake-up per result cost both threads a futex call.
      bool wake = true;
      if (const auto* complete = std::get_if<CompleteOp>(&op)) {
        queued_results_ += complete->results.size();
        wake = !lingering_ || queued_results_ >= kResultsBatch;
      } else {
        ++queued_others_;
      }
      queue_.push_back(std::move(op));
      if (wake) {
        cv_.notify_one();
      }
      return;
    }
  }
  // Stopped: complete at once, still through the handler's executor.
  std::visit(
      [](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, CallOp>) {
          o.abandon();
        } else {
          o.done(fail(stopped_error()));
        }
      },
      op);
}

SpaceStatus StorageWorker::space() const {
  std::lock_guard lock(space_mutex_);
  return space_;
}

std::optional<std::string> StorageWorker::unreachable() const {
  std::lock_guard lock(space_mutex_);
  return unreachable_;
}

std::uint64_t StorageWorker::recoveries() const {
  std::lock_guard lock(space_mutex_);
  return recoveries_;
}

void StorageWorker::check_reachable() {
  std::optional<std::string> why = store_->unreachable();
  std::lock_guard lock(space_mutex_);
  if (why.has_value() == unreachable_.has_value()) {
    if (why) unreachable_ = std::move(why);  // the latest reason
    return;
  }
  if (why) {
    if (log_) {
      log_->error(
          "storage: the database cannot be reached: {}; new events get 503 and deliveries wait "
          "until it is back",
          *why);
    }
  } else {
    ++recoveries_;
    if (log_) {
      log_->info("storage: the database can be reached again; taking new events and delivering");
    }
  }
  unreachable_ = std::move(why);
}

void StorageWorker::run() {
  std::vector<Op> ops;
  for (;;) {
    bool tick = false;  // nothing to do until the next measurement or deferred work
    const auto deferred = store_ ? store_->deferred_until() : std::nullopt;
    {
      std::unique_lock lock(mutex_);
      const auto ready = [this] { return stopping_ || !queue_.empty(); };
      if (measures_space_ || deferred) {
        const auto until = !measures_space_ ? *deferred
                           : deferred       ? std::min(*deferred, next_measure_)
                                            : next_measure_;
        tick = !cv_.wait_until(lock, until, ready);
      } else {
        cv_.wait(lock, ready);
      }
      if (!tick) {
        if (queue_.empty()) {
          lock.unlock();
          run_deferred_if_due(true);  // what the store owes, before its time
          return;                     // stopping, and everything submitted before is done
        }
        const auto linger_until = last_results_ + results_linger_;
        if (queued_others_ == 0 && queued_results_ < kResultsBatch && !stopping_ &&
            std::chrono::steady_clock::now() < linger_until) {
          // Results alone: let more join them, up to results_linger_ after
          // the last commit of results; anything else ends the wait at once.
          lingering_ = true;
          cv_.wait_until(lock, linger_until, [this] {
            return stopping_ || queued_others_ > 0 || queued_results_ >= kResultsBatch;
          });
          lingering_ = false;
        }
        queued_others_ = 0;
        queued_results_ = 0;
        ops.reserve(queue_.size());
        for (Op& op : queue_) {
          ops.push_back(std::move(op));
        }
        queue_.clear();
      }
    }
    if (tick) {
      run_deferred_if_due(false);
      if (measures_space_ && std::chrono::steady_clock::now() >= next_measure_) {
        measure_space(true);
      }
      continue;
    }
    process(ops);
    ops.clear();
    run_deferred_if_due(false);  // also when operations never stop coming
    if (measures_space_ && std::chrono::steady_clock::now() >= next_measure_) {
      measure_space(false);
    }
  }
}

void StorageWorker::run_deferred_if_due(bool stopping) {
  if (!store_) return;
  const auto due = store_->deferred_until();
  if (!due || (!stopping && std::chrono::steady_clock::now() < *due)) return;
  try {
    store_->run_deferred(stopping);
  } catch (const std::exception& e) {  // only std::bad_alloc is possible
    if (log_) log_->warn("storage: deferred work failed: {}", e.what());
  }
}

void StorageWorker::measure_space(bool tick, bool look_only) {
  next_measure_ = std::chrono::steady_clock::now() + kMeasurePeriod;
  auto sample = guarded([&] { return store_->measure_space(); });
  if (!sample) {
    if (!measure_failed_ && log_) {
      log_->warn("storage: cannot measure free space: {}", sample.error().message);
    }
    measure_failed_ = true;
    return;
  }
  measure_failed_ = false;
  const bool first = !space_.measured;  // written by this thread only
  // Idle: nothing written since the measurement a period ago.
  const bool idle = tick && !first && sample->writes == writes_at_measure_;
  writes_at_measure_ = sample->writes;
  const SpaceGuard::Change change = guard_.update(*sample);
  if (guard_.wal_pages() != wal_pages_) {
    wal_pages_ = guard_.wal_pages();
    store_->limit_wal(wal_pages_);
  }
  const SpaceLimits& limits = guard_.limits();
  if (log_ && first && limits.reserve && *limits.reserve >= sample->fs_size) {
    log_->warn(
        "storage: storage.reserve ({}) is not smaller than the file system ({}): every new "
        "event will be refused",
        format_size(*limits.reserve), format_size(sample->fs_size));
  }
  if (log_ && change == SpaceGuard::Change::closed) {
    log_->warn(
        "storage: refusing new events (503) for lack of space: {}; deliveries go on, and "
        "each one delivered frees space",
        guard_.explain());
  } else if (log_ && change == SpaceGuard::Change::reopened) {
    log_->info("storage: accepting new events again: {}", guard_.explain());
  }
  // While refusing: at each periodic measurement and when closing, not at
  // an insert's look (up to ten a second).
  if ((!guard_.accepting() && (!look_only || change == SpaceGuard::Change::closed)) ||
      (idle && sample->wal_bytes > 0)) {
    auto shrunk = guarded([&] { return store_->shrink_wal(); });
    if (!shrunk && log_) {
      log_->debug("storage: cannot truncate the write-ahead log: {}", shrunk.error().message);
    }
  }
  insert_budget_ = guard_.room() / 2;
  SpaceStatus status;
  status.measured = true;
  status.accepting = guard_.accepting();
  status.limit = guard_.limit();
  status.sample = guard_.sample();
  status.reserve = guard_.reserve();
  status.max_size = limits.max_size;
  {
    std::lock_guard lock(space_mutex_);
    space_ = status;
  }
  if (observer_ != nullptr) {
    observer_->on_space(
        metrics::StorageSpace{.free = status.sample.fs_free,
                              .database = status.sample.database_bytes + status.sample.wal_bytes,
                              .reusable = status.sample.reusable_bytes,
                              .reserve = status.reserve,
                              .full = !status.accepting});
  }
}

void StorageWorker::admit(Round& round) {
  if (!measures_space_ || round.events.empty()) {
    return;
  }
  const std::uint64_t need = estimate_bytes(round.events);
  if (guard_.accepting() && need > insert_budget_) {
    measure_space(false);  // near the limit: look again before writing
  } else if (!guard_.accepting() && std::chrono::steady_clock::now() >=
                                        next_measure_ - kMeasurePeriod + kClosedRemeasure) {
    measure_space(false, true);  // refusing: has space come back?
  }
  if (!guard_.accepting()) {
    const StoreError refused{"storage is full: new events are refused until deliveries free space",
                             true, true};
    for (InsertOp* op : round.inserted) {
      op->done(fail(refused));
    }
    round.events.clear();
    round.inserted.clear();
    return;
  }
  insert_budget_ = insert_budget_ > need ? insert_budget_ - need : 0;
}

namespace {

// Hands each submission its own slice of a batch's outcomes, in order.
template <class InsertOps>
void complete_inserts(const InsertOps& inserted, const std::vector<InsertOutcome>& outcomes) {
  auto next = outcomes.begin();
  for (auto* op : inserted) {
    const auto end = next + static_cast<std::ptrdiff_t>(op->events.size());
    op->done(std::vector<InsertOutcome>(next, end));
    next = end;
  }
}

}  // namespace

bool StorageWorker::write_grouped(Round& round) {
  const bool durable = !round.events.empty();
  const auto start = std::chrono::steady_clock::now();
  const auto begun = guarded([&]() -> StoreResult<bool> { return store_->begin_group(durable); });
  if (!begun || !*begun) {
    return false;
  }
  bool ok = true;
  std::vector<InsertOutcome> outcomes;
  if (!round.events.empty()) {
    auto inserted = guarded([&] { return store_->insert_batch(round.events); });
    ok = inserted && inserted->size() == round.events.size();
    if (ok) outcomes = std::move(inserted).value();
  }
  if (ok && !round.results.empty()) {
    ok = guarded([&] { return store_->complete(round.results); }).ok();
  }
  std::vector<FetchResult> fetched;
  for (const FetchOp* op : round.fetches) {
    if (!ok) break;
    auto taken = guarded([&] { return store_->fetch_due(op->destination, op->now, op->limit); });
    ok = taken.ok();
    if (ok) fetched.push_back(std::move(taken).value());
  }
  if (ok) {
    ok = guarded([&] { return store_->end_group(); }).ok();
  } else {
    store_->abort_group();
  }
  if (!ok) {
    // Each part again on its own says which of them failed, and why.
    if (log_) log_->debug("storage: a grouped transaction failed; writing its parts one by one");
    return false;
  }
  check_reachable();
  if (observer_ != nullptr) {
    observer_->on_commit(round.events.size() + round.results.size(), seconds_since(start), true);
  }
  if (!round.results.empty()) {
    last_results_ = start;
  }
  complete_inserts(round.inserted, outcomes);
  for (auto& done : round.completed) {
    done(Unit{});
  }
  for (std::size_t i = 0; i < round.fetches.size(); ++i) {
    round.fetches[i]->done(std::move(fetched[i]));
  }
  return true;
}

void StorageWorker::write_apart(Round& round) {
  if (!round.events.empty()) {
    insert(round);
  }
  if (!round.results.empty()) {
    record_results(round);
  }
  for (FetchOp* op : round.fetches) {
    fetch(*op);
  }
}

void StorageWorker::insert(Round& round) {
  std::vector<NewEvent>& events = round.events;
  const auto start = std::chrono::steady_clock::now();
  auto outcome = guarded([&] { return store_->insert_batch(events); });
  check_reachable();
  if (outcome && outcome->size() != events.size()) {
    outcome = fail(StoreError{"internal error: insert_batch returned a wrong count", false});
  }
  if (observer_ != nullptr) {
    observer_->on_commit(events.size(), seconds_since(start), outcome.ok());
  }
  if (outcome) {
    complete_inserts(round.inserted, *outcome);
    return;
  }
  if (log_) {
    log_->error("storage: storing {} events failed: {}", events.size(), outcome.error().message);
  }
  for (InsertOp* op : round.inserted) {
    op->done(fail(outcome.error()));
  }
  if (outcome.error().disk_full && measures_space_) {
    measure_space(false);  // the guard should close now
  }
}

void StorageWorker::record_results(Round& round) {
  const auto start = std::chrono::steady_clock::now();
  last_results_ = start;
  auto outcome = guarded([&] { return store_->complete(round.results); });
  check_reachable();
  if (observer_ != nullptr) {
    observer_->on_commit(round.results.size(), seconds_since(start), outcome.ok());
  }
  if (!outcome && log_) {
    log_->error("storage: recording {} delivery results failed: {}", round.results.size(),
                outcome.error().message);
  }
  if (!outcome && outcome.error().disk_full && measures_space_) {
    measure_space(false);
  }
  for (auto& done : round.completed) {
    done(outcome);
  }
}

void StorageWorker::fetch(FetchOp& op) {
  auto taken = guarded([&] { return store_->fetch_due(op.destination, op.now, op.limit); });
  check_reachable();
  op.done(std::move(taken));
}

void StorageWorker::process(std::vector<Op>& ops) {
  Round round;
  std::vector<Op*> calls;  // fetches after the first other call, and the calls, in order
  for (Op& op : ops) {
    if (auto* insert = std::get_if<InsertOp>(&op)) {
      for (NewEvent& event : insert->events) {
        round.events.push_back(std::move(event));
      }
      round.inserted.push_back(insert);
    } else if (auto* complete = std::get_if<CompleteOp>(&op)) {
      for (AttemptResult& result : complete->results) round.results.push_back(std::move(result));
      round.completed.push_back(std::move(complete->done));
    } else if (auto* fetch = std::get_if<FetchOp>(&op); fetch != nullptr && calls.empty()) {
      round.fetches.push_back(fetch);
    } else {
      calls.push_back(&op);
    }
  }

  admit(round);
  const std::size_t parts =
      (round.events.empty() ? 0 : 1) + (round.results.empty() ? 0 : 1) + round.fetches.size();
  if (parts < 2 || !write_grouped(round)) {
    write_apart(round);
  }

  for (Op* op : calls) {
    if (auto* later = std::get_if<FetchOp>(op)) {
      fetch(*later);
      continue;
    }
    CallOp& call = std::get<CallOp>(*op);
    try {
      call.run(*store_);
    } catch (const std::exception& e) {
      if (log_) {
        log_->error("storage: call failed: {}", e.what());
      }
      call.abandon();
    }
  }
}

}  // namespace ocirelay::storage
