// StorageWorker: the asynchronous front of a Store.
//
// Thread and lifetime contract: the worker owns the Store and one thread that
// alone calls it. Any thread may submit operations; each completion handler is
// posted to the handler's associated executor (a coroutine's own executor), so
// callers never run on the storage thread. Operations that queue up while a
// transaction is on disk are batched (group commit): all waiting inserts go
// into one insert_batch(), all waiting attempt results into one complete(),
// and where the store can (Store::begin_group: SQLite) these and the waiting
// fetches (those submitted before any other call) share one transaction,
// durable when it holds inserts. Its operations complete only once it has
// committed, so no delivery it takes is handed out before the event is
// durable. If any part of it fails, nothing of it is kept, and the parts are
// written again one by one, each in its own transaction with its own
// outcome (a store that does not group always works that way). Other calls
// run after them, one at a time, in the order submitted. Attempt results
// that wait alone (no insert or call queued) commit at most once per
// `results_linger` (2 ms) unless 256 of them wait: they arrive one delivery
// at a time and commit without fsync, so without the wait each commit took a
// handful (4.4 on average end to end, docs/benchmarks.md), each paying a
// transaction's fixed cost. Nothing waits on them but the dispatcher's
// bookkeeping (a delivery's slot is freed when its request ends); an insert,
// fetch or call ends the wait at once, and so does stop(). stop() (or the
// destructor) finishes every operation already submitted, then joins;
// operations submitted after stop() complete at once with a "storage
// stopped" error. The worker must outlive the executors it posts to or be
// stopped before they are destroyed.
// The events of one async_insert_many() go into the same insert_batch() call,
// so a batch request is one transaction, never split.
//
// Space (storage.reserve, storage.max_size): the worker measures the store's
// space (Store::measure_space) once at construction, then on the storage
// thread every second, after a write failed for lack of space, and before an
// insert batch that may use up the room the last measurement left; never once
// per event. A SpaceGuard decides from it: while it refuses, inserts complete
// with a space_refused error without touching the store, everything else
// (fetch_due, complete, dead letters, stats) goes on, and the write-ahead log
// is checkpointed and truncated every second so its space goes back to the
// file system; the same happens once after a second without writes. The
// worker logs once when it starts refusing and once when it takes new events
// again. space() may be read from any thread.
//
// Deferred work (Store::deferred_until, e.g. a PostgreSQL notification owed
// to other relays): the worker calls Store::run_deferred() on the storage
// thread once its time has come (waking for it when idle, and between
// operations), and when it stops.
//
// Reachability (a store on a remote database, Store::unreachable): after
// each store call, before its operations complete, the worker reads whether
// the store could reach its database, logs once when it cannot and once when
// it can again, and publishes it for unreachable() (any thread). A failing store fails fast
// (PgStore), so waiting operations are not held up.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "ocirelay/metrics/storage_observer.hpp"
#include "ocirelay/storage/space_guard.hpp"
#include "ocirelay/storage/store.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::storage {

// What the last measurement of storage space found.
struct SpaceStatus {
  bool measured = false;  // false: the store does not measure (never refusing)
  bool accepting = true;  // new events are taken
  SpaceGuard::Limit limit = SpaceGuard::Limit::none;  // what refuses them
  SpaceSample sample;
  std::uint64_t reserve = 0;   // effective storage.reserve
  std::uint64_t max_size = 0;  // storage.max_size; 0: none
};

class StorageWorker {
 public:
  static constexpr std::chrono::milliseconds kResultsLinger{2};

  StorageWorker(std::unique_ptr<Store> store, std::shared_ptr<spdlog::logger> log,
                metrics::StorageObserver* observer = nullptr, SpaceLimits limits = {},
                std::chrono::milliseconds results_linger = kResultsLinger);
  ~StorageWorker();
  StorageWorker(const StorageWorker&) = delete;
  StorageWorker& operator=(const StorageWorker&) = delete;

  void stop();

  // The last space measurement (any thread).
  SpaceStatus space() const;
  // Why the store's database could not be reached by the last operation;
  // nullopt when it could (any thread).
  std::optional<std::string> unreachable() const;
  // How often the database became reachable again after it was not (any
  // thread): a commit that failed before the last recovery is stale.
  std::uint64_t recoveries() const;
  // Whether other relays share the store's queue (Store::shared).
  bool shared() const noexcept { return shared_; }

  // void(StoreResult<InsertOutcome>)
  template <class Token>
  auto async_insert(NewEvent event, Token&& token) {
    return async_op<StoreResult<InsertOutcome>>(
        std::forward<Token>(token), [ev = std::move(event)](auto done) mutable {
          std::vector<NewEvent> events;
          events.push_back(std::move(ev));
          return Op{InsertOp{std::move(events), [done](StoreResult<std::vector<InsertOutcome>> r) {
                               done(r ? StoreResult<InsertOutcome>(r->front())
                                      : StoreResult<InsertOutcome>(fail(std::move(r).error())));
                             }}};
        });
  }

  // Several events of one request, atomically: they go into one transaction
  // (with whatever else is waiting), so either all of them are stored or none.
  // The outcomes are in input order; an event_id repeated within `events` is
  // a duplicate the second time, as across transactions. `events` must not be
  // empty. void(StoreResult<std::vector<InsertOutcome>>)
  template <class Token>
  auto async_insert_many(std::vector<NewEvent> events, Token&& token) {
    return async_op<StoreResult<std::vector<InsertOutcome>>>(
        std::forward<Token>(token), [evs = std::move(events)](auto done) mutable {
          return Op{InsertOp{std::move(evs), std::move(done)}};
        });
  }

  // void(StoreResult<FetchResult>)
  template <class Token>
  auto async_fetch_due(std::string destination, Millis now, std::size_t limit, Token&& token) {
    return async_op<StoreResult<FetchResult>>(
        std::forward<Token>(token),
        [destination = std::move(destination), now, limit](auto done) mutable {
          return Op{FetchOp{std::move(destination), now, limit, std::move(done)}};
        });
  }

  // void(StoreResult<Unit>)
  template <class Token>
  auto async_complete(AttemptResult result, Token&& token) {
    std::vector<AttemptResult> results;
    results.push_back(std::move(result));
    return async_complete_many(std::move(results), std::forward<Token>(token));
  }

  // The results of a batch's deliveries, atomically: they go into one
  // complete() (with whatever else is waiting). void(StoreResult<Unit>)
  template <class Token>
  auto async_complete_many(std::vector<AttemptResult> results, Token&& token) {
    return async_op<StoreResult<Unit>>(std::forward<Token>(token),
                                       [r = std::move(results)](auto done) mutable {
                                         return Op{CompleteOp{std::move(r), std::move(done)}};
                                       });
  }

  // void(StoreResult<std::vector<DestinationStats>>)
  template <class Token>
  auto async_stats(Token&& token) {
    return async_call<std::vector<DestinationStats>>(std::forward<Token>(token),
                                                     [](Store& s) { return s.stats(); });
  }

  // void(StoreResult<std::int64_t>)
  template <class Token>
  auto async_release_inflight(Token&& token) {
    return async_call<std::int64_t>(std::forward<Token>(token),
                                    [](Store& s) { return s.release_inflight(); });
  }

  // void(StoreResult<std::int64_t>)
  template <class Token>
  auto async_prune_dedupe(Millis cutoff, Token&& token) {
    return async_call<std::int64_t>(std::forward<Token>(token),
                                    [cutoff](Store& s) { return s.prune_dedupe(cutoff); });
  }

  // Runs `fn(store)` on the storage thread. void(StoreResult<T>)
  template <class T, class Token, class Fn>
  auto async_call(Token&& token, Fn fn) {
    // The reachability is published before the caller hears the result.
    return async_op<StoreResult<T>>(
        std::forward<Token>(token), [this, fn = std::move(fn)](auto done) mutable {
          auto run = [this, fn = std::move(fn), done](Store& s) mutable {
            auto result = fn(s);
            check_reachable();
            done(std::move(result));
          };
          auto abandon = [done]() mutable { done(StoreResult<T>(fail(stopped_error()))); };
          return Op{CallOp{std::move(run), std::move(abandon)}};
        });
  }

 private:
  // One submission: a single event, or the events of one batch request.
  struct InsertOp {
    std::vector<NewEvent> events;
    std::function<void(StoreResult<std::vector<InsertOutcome>>)> done;
  };
  struct CompleteOp {
    std::vector<AttemptResult> results;
    std::function<void(StoreResult<Unit>)> done;
  };
  struct FetchOp {
    std::string destination;
    Millis now = 0;
    std::size_t limit = 0;
    std::function<void(StoreResult<FetchResult>)> done;
  };
  struct CallOp {
    std::function<void(Store&)> run;
    std::function<void()> abandon;  // completes with "storage stopped"
  };
  using Op = std::variant<InsertOp, CompleteOp, FetchOp, CallOp>;

  // What one round of process() writes: the inserts, attempt results and
  // fetches waiting together (the fetches submitted before any other call).
  struct Round {
    std::vector<NewEvent> events;
    std::vector<InsertOp*> inserted;
    std::vector<AttemptResult> results;
    std::vector<std::function<void(StoreResult<Unit>)>> completed;
    std::vector<FetchOp*> fetches;
  };

  static StoreError stopped_error() { return StoreError{"storage stopped", false}; }

  // Wraps a (move-only) completion handler into a copyable callable that posts
  // the result to the handler's executor, keeping that executor busy until then.
  // Call it once. The handler itself moves into the posted function, so it is
  // invoked and destroyed on its executor, never on the storage thread (which
  // only drops the moved-from shell and the work guard, after posting).
  template <class R, class Handler>
  static std::function<void(R)> to_poster(Handler handler) {
    auto ex = boost::asio::get_associated_executor(handler);
    using Guard = boost::asio::executor_work_guard<decltype(ex)>;
    struct State {
      Handler handler;
      Guard guard;
    };
    auto state = std::make_shared<State>(State{std::move(handler), Guard(ex)});
    return [state, ex](R r) {
      boost::asio::post(ex, [h = std::move(state->handler), r = std::move(r)]() mutable {
        std::move(h)(std::move(r));
      });
      state->guard.reset();
    };
  }

  template <class R, class Token, class MakeOp>
  auto async_op(Token&& token, MakeOp make_op) {
    return boost::asio::async_initiate<Token, void(R)>(
        [this](auto handler, MakeOp make) { submit(make(to_poster<R>(std::move(handler)))); },
        token, std::move(make_op));
  }

  void submit(Op op);
  void run();
  void process(std::vector<Op>& ops);
  // Lets the space guard decide on the round's inserts; when it refuses,
  // they complete with its error and leave the round.
  void admit(Round& round);
  // The round in one group (Store::begin_group), completing every operation
  // once it committed; false, with nothing completed or kept, when the store
  // does not group or the group failed.
  bool write_grouped(Round& round);
  // The round one part at a time, each in its own transaction, each
  // operation with its own outcome.
  void write_apart(Round& round);
  void insert(Round& round);
  void record_results(Round& round);
  void fetch(FetchOp& op);
  // Measures, lets the guard decide, logs a change, publishes the status and
  // gives WAL space back when refusing, or on a periodic `tick` when nothing
  // was written for a period. Storage thread (or the constructor, before it
  // starts).
  // `look_only`: an insert's look while refusing (no WAL truncation).
  // Store::run_deferred() when its time has come (or, `stopping`, at once
  // if the store has deferred work at all).
  void run_deferred_if_due(bool stopping);
  void measure_space(bool tick, bool look_only = false);

  std::unique_ptr<Store> store_;
  std::shared_ptr<spdlog::logger> log_;
  metrics::StorageObserver* observer_;
  // Space: storage thread only, but for space_ (under space_mutex_).
  SpaceGuard guard_;
  bool measures_space_ = false;
  std::uint64_t writes_at_measure_ = 0;  // SpaceSample::writes then
  bool measure_failed_ = false;          // warned once until a measurement succeeds
  std::uint64_t insert_budget_ = 0;      // bytes inserts may take before measuring again
  std::uint64_t wal_pages_ = 0;          // as last given to limit_wal()
  std::chrono::steady_clock::time_point next_measure_;
  mutable std::mutex space_mutex_;
  SpaceStatus space_;
  std::optional<std::string> unreachable_;  // under space_mutex_
  std::uint64_t recoveries_ = 0;            // under space_mutex_
  bool shared_ = false;
  // Publishes the store's reachability after a store call (storage thread).
  void check_reachable();
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Op> queue_;
  std::size_t queued_results_ = 0;  // attempt results in queue_ (under mutex_)
  std::size_t queued_others_ = 0;   // inserts and calls in queue_ (under mutex_)
  bool lingering_ = false;          // the worker waits for more results (under mutex_)
  // When the last commit of attempt results started (storage thread); none
  // yet: the earliest time there is, not the clock's epoch (the boot), which
  // a long linger would reach past.
  std::chrono::steady_clock::time_point last_results_ =
      std::chrono::steady_clock::time_point::min();
  std::chrono::milliseconds results_linger_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ocirelay::storage
