#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

using boost::asio::awaitable;
using boost::asio::use_awaitable;
using ocirelay::fail;
using ocirelay::storage::AttemptResult;
using ocirelay::storage::DeadLetter;
using ocirelay::storage::DestinationStats;
using ocirelay::storage::FetchResult;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::Millis;
using ocirelay::storage::NewEvent;
using ocirelay::storage::open_sqlite_store;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::StorageWorker;
using ocirelay::storage::Store;
using ocirelay::storage::StoreError;
using ocirelay::storage::StoreResult;
using ocirelay::Unit;
using ocirelay::metrics::StorageObserver;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::test::TempDir;

namespace {

class CountingObserver : public StorageObserver {
 public:
  void on_commit(std::size_t count, double seconds, bool ok) override {
    ++commits;
    events += count;
    if (!ok) {
      ++failures;
    }
    if (seconds < 0) {
      ++negative_times;
    }
  }
  void on_space(const ocirelay::metrics::StorageSpace&) override {}

  std::atomic<int> commits{0};
  std::atomic<std::size_t> events{0};
  std::atomic<int> failures{0};
  std::atomic<int> negative_times{0};
};

std::unique_ptr<Store> open_store(const TempDir& dir) {
  auto store = open_sqlite_store(SqliteOptions{dir.file("relay.db")});
  if (!store) {
    FAIL("open failed: " << store.error().message);
  }
  return std::move(store).value();
}

// Completion for co_spawn: a failed check inside the coroutine fails the test.
void rethrow(std::exception_ptr e) {
  if (e) {
    std::rethrow_exception(e);
  }
}

// A store whose writes fail, as on a full disk.
class FullDiskStore : public Store {
 public:
  StoreResult<std::vector<InsertOutcome>> insert_batch(std::span<const NewEvent>) override {
    return fail(StoreError{"insert_batch: database or disk is full", true});
  }
  StoreResult<FetchResult> fetch_due(const std::string&, Millis, std::size_t) override {
    return FetchResult{};
  }
  StoreResult<Unit> complete(std::span<const AttemptResult>) override {
    return fail(StoreError{"complete: database or disk is full", true});
  }
  StoreResult<std::int64_t> release_inflight() override { return std::int64_t{0}; }
  StoreResult<std::int64_t> release_inflight(const std::string&) override { return std::int64_t{0}; }
  StoreResult<std::int64_t> prune_dedupe(Millis) override { return std::int64_t{0}; }
  StoreResult<std::vector<DestinationStats>> stats() override {
    return std::vector<DestinationStats>{};
  }
  StoreResult<std::vector<DeadLetter>> dead_letters(std::size_t) override {
    return std::vector<DeadLetter>{};
  }
};

// Blocks the storage thread until open() is called, so that operations
// submitted meanwhile queue up behind it. hold() returns once the storage
// thread is inside the gate.
class Gate {
 public:
  void hold(StorageWorker& worker, boost::asio::io_context& io) {
    worker.async_call<Unit>(boost::asio::bind_executor(io, [](StoreResult<Unit>) {}),
                            [entered = &entered_, opened = opened_](Store&) {
                              entered->set_value();
                              opened.wait();
                              return StoreResult<Unit>(Unit{});
                            });
    entered_.get_future().wait();
  }
  void open() { opening_.set_value(); }

 private:
  std::promise<void> entered_;
  std::promise<void> opening_;
  std::shared_future<void> opened_ = opening_.get_future().share();
};

}  // namespace

// What the coroutine below saw; checked once io.run() returns (Catch's
// assertion macros do not compile inside GCC 12 coroutines).
struct FlowResults {
  std::thread::id storage_thread;
  std::vector<std::thread::id> resumed_on;
  std::optional<StoreResult<InsertOutcome>> inserted;
  std::optional<StoreResult<InsertOutcome>> duplicate;
  std::optional<StoreResult<FetchResult>> fetched;
  std::optional<StoreResult<Unit>> completed;
  std::optional<StoreResult<std::vector<DestinationStats>>> stats;
  std::optional<StoreResult<FetchResult>> audit;
  std::optional<StoreResult<std::int64_t>> released;
  std::optional<StoreResult<std::int64_t>> pruned;
  bool finished = false;
};

awaitable<void> flow(StorageWorker& worker, FlowResults& out) {
  auto here = [&out] { out.resumed_on.push_back(std::this_thread::get_id()); };
  auto storage_thread = co_await worker.async_call<std::thread::id>(use_awaitable, [](Store&) {
    return StoreResult<std::thread::id>(std::this_thread::get_id());
  });
  here();
  if (storage_thread.ok()) {
    out.storage_thread = *storage_thread;
  }
  // (Built before the co_await: GCC 12 rejects a braced list of string
  // literals inside a co_await expression.)
  NewEvent event = make_event("a", kT0, std::vector<std::string>{"oic", "audit"});
  out.inserted = co_await worker.async_insert(std::move(event), use_awaitable);
  here();
  NewEvent again = make_event("a", kT0 + 1, std::vector<std::string>(1, "oic"));
  out.duplicate = co_await worker.async_insert(std::move(again), use_awaitable);
  here();
  out.fetched = co_await worker.async_fetch_due("oic", kT0 + 10, 10, use_awaitable);
  here();
  AttemptResult result;
  if (out.fetched->ok() && !(*out.fetched)->due.empty()) {
    result.id = (*out.fetched)->due[0].id;
  }
  result.kind = AttemptResult::Kind::delivered;
  result.attempts = 1;
  out.completed = co_await worker.async_complete(result, use_awaitable);
  here();
  out.stats = co_await worker.async_stats(use_awaitable);
  here();
  out.audit = co_await worker.async_fetch_due("audit", kT0 + 10, 10, use_awaitable);
  here();
  out.released = co_await worker.async_release_inflight(use_awaitable);
  here();
  out.pruned = co_await worker.async_prune_dedupe(kT0 + 1, use_awaitable);
  here();
  out.finished = true;
}

TEST_CASE("results arrive on the io_context thread, never the storage thread",
          "[storage][worker]") {
  TempDir dir;
  CountingObserver observer;
  StorageWorker worker(open_store(dir), nullptr, &observer);
  boost::asio::io_context io;
  FlowResults out;
  boost::asio::co_spawn(io, flow(worker, out), rethrow);
  io.run();  // returns once every result has been delivered

  REQUIRE(out.finished);
  CHECK(out.storage_thread != std::thread::id());
  CHECK(out.storage_thread != std::this_thread::get_id());
  REQUIRE(out.resumed_on.size() == 9);
  for (const auto& id : out.resumed_on) {
    CHECK(id == std::this_thread::get_id());
  }
  REQUIRE(out.inserted->ok());
  CHECK(**out.inserted == InsertOutcome::queued);
  REQUIRE(out.duplicate->ok());
  CHECK(**out.duplicate == InsertOutcome::duplicate);
  REQUIRE(out.fetched->ok());
  REQUIRE((*out.fetched)->due.size() == 1);
  CHECK((*out.fetched)->due[0].body == "{\"eventID\":\"a\"}");
  CHECK(out.completed->ok());
  REQUIRE(out.stats->ok());
  const auto& stats = **out.stats;
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].destination == "audit");
  CHECK(stats[0].pending == 1);
  REQUIRE(out.audit->ok());
  CHECK((*out.audit)->due.size() == 1);
  REQUIRE(out.released->ok());
  CHECK(**out.released == 1);
  REQUIRE(out.pruned->ok());
  CHECK(**out.pruned == 1);

  CHECK(observer.commits == 3);  // two inserts and one complete, each its own commit
  CHECK(observer.failures == 0);
  CHECK(observer.negative_times == 0);
}

TEST_CASE("plain callbacks run on their bound executor", "[storage][worker]") {
  TempDir dir;
  StorageWorker worker(open_store(dir), nullptr);
  boost::asio::io_context io;
  std::thread::id ran_on;
  std::optional<InsertOutcome> outcome;
  worker.async_insert(make_event("a", kT0),
                      boost::asio::bind_executor(io, [&](StoreResult<InsertOutcome> r) {
                        ran_on = std::this_thread::get_id();
                        outcome = r.ok() ? std::optional(*r) : std::nullopt;
                      }));
  io.run();  // the work guard keeps it running until the result is in
  CHECK(ran_on == std::this_thread::get_id());
  CHECK(outcome == InsertOutcome::queued);
}

TEST_CASE("concurrent inserts are grouped into fewer commits", "[storage][worker]") {
  TempDir dir;
  CountingObserver observer;
  StorageWorker worker(open_store(dir), nullptr, &observer);
  boost::asio::io_context io;
  constexpr int kEvents = 200;

  // Hold the storage thread while the 200 inserts are submitted, so that
  // they queue up: the point is the grouping, not how fast the disk is.
  Gate gate;
  gate.hold(worker, io);
  int queued = 0;
  for (int i = 0; i < kEvents; ++i) {
    boost::asio::co_spawn(
        io,
        [&worker, &queued,
         event = make_event(numbered_id(i), kT0 + i)]() mutable -> awaitable<void> {
          auto r = co_await worker.async_insert(std::move(event), use_awaitable);
          if (r.ok() && *r == InsertOutcome::queued) {
            ++queued;
          }
        },
        rethrow);
  }
  // Runs after every coroutine above has submitted its insert.
  boost::asio::post(io, [&] { gate.open(); });
  io.run();

  CHECK(queued == kEvents);
  CHECK(observer.events == static_cast<std::size_t>(kEvents));
  CHECK(observer.commits < kEvents);
  CHECK(observer.commits == 1);  // all 200 were waiting when the thread came back
}

TEST_CASE("stop() finishes the operations already submitted", "[storage][worker]") {
  TempDir dir;
  boost::asio::io_context io;
  CountingObserver observer;
  auto worker = std::make_unique<StorageWorker>(open_store(dir), nullptr, &observer);
  Gate gate;
  gate.hold(*worker, io);

  int inserted = 0;
  int stats_calls = 0;
  for (int i = 0; i < 20; ++i) {
    worker->async_insert(make_event(numbered_id(i), kT0),
                         boost::asio::bind_executor(io, [&](StoreResult<InsertOutcome> r) {
                           CHECK(r.ok());
                           inserted += r.ok() ? 1 : 0;
                         }));
  }
  worker->async_stats(boost::asio::bind_executor(io, [&](auto r) {
    REQUIRE(r.ok());
    REQUIRE(r->size() == 1);
    CHECK((*r)[0].pending == 20);
    ++stats_calls;
  }));

  std::thread stopper([&] { worker->stop(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let stop() begin (not required)
  gate.open();
  stopper.join();

  // Submitted after stop(): fails, but still through the executor.
  std::optional<std::string> late_error;
  worker->async_insert(make_event("late", kT0), boost::asio::bind_executor(io, [&](auto r) {
                         late_error = r.ok() ? "" : r.error().message;
                       }));
  std::optional<std::string> late_call_error;
  worker->async_fetch_due("oic", kT0, 10, boost::asio::bind_executor(io, [&](auto r) {
                            late_call_error = r.ok() ? "" : r.error().message;
                          }));
  CHECK_FALSE(late_error.has_value());  // not run inline

  io.run();
  CHECK(inserted == 20);
  CHECK(stats_calls == 1);
  CHECK(late_error == "storage stopped");
  CHECK(late_call_error == "storage stopped");
  CHECK(observer.events == 20u);

  worker->stop();  // twice is fine
  worker.reset();
  auto reopened = open_store(dir);
  auto stats = ocirelay::storage::test::ok(reopened->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 20);
}

TEST_CASE("the destructor stops the worker after the queued operations", "[storage][worker]") {
  TempDir dir;
  boost::asio::io_context io;
  int done = 0;
  {
    StorageWorker worker(open_store(dir), nullptr);
    for (int i = 0; i < 10; ++i) {
      worker.async_insert(make_event(numbered_id(i), kT0),
                          boost::asio::bind_executor(io, [&](auto r) { done += r.ok() ? 1 : 0; }));
    }
  }
  io.run();
  CHECK(done == 10);
}

TEST_CASE("a failed batch fails each of its operations and is logged", "[storage][worker]") {
  std::ostringstream log_text;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text);
  auto log = std::make_shared<spdlog::logger>("storage-test", sink);
  CountingObserver observer;
  boost::asio::io_context io;
  StorageWorker worker(std::make_unique<FullDiskStore>(), log, &observer);
  Gate gate;
  gate.hold(worker, io);

  std::vector<StoreError> errors;
  for (int i = 0; i < 5; ++i) {
    worker.async_insert(make_event(numbered_id(i), kT0),
                        boost::asio::bind_executor(io, [&](StoreResult<InsertOutcome> r) {
                          REQUIRE_FALSE(r.ok());
                          errors.push_back(r.error());
                        }));
  }
  AttemptResult result;
  result.id = 1;
  worker.async_complete(result, boost::asio::bind_executor(io, [&](StoreResult<Unit> r) {
                          REQUIRE_FALSE(r.ok());
                          errors.push_back(r.error());
                        }));
  bool stats_ok = false;
  worker.async_stats(boost::asio::bind_executor(io, [&](auto r) { stats_ok = r.ok(); }));
  boost::asio::post(io, [&] { gate.open(); });
  io.run();

  REQUIRE(errors.size() == 6);
  for (const auto& e : errors) {
    CHECK(e.disk_full);
  }
  CHECK_THAT(errors[0].message, Catch::Contains("insert_batch"));
  CHECK_THAT(errors[5].message, Catch::Contains("complete"));
  CHECK(stats_ok);  // calls still run after a failed batch
  CHECK(observer.commits == 2);
  CHECK(observer.failures == 2);
  log->flush();
  CHECK_THAT(log_text.str(), Catch::Contains("storing 5 events failed") &&
                                 Catch::Contains("database or disk is full"));
}

TEST_CASE("insert_many: one request's events in one commit, with per-event outcomes in order",
          "[storage][worker]") {
  TempDir dir;
  CountingObserver observer;
  StorageWorker worker(open_store(dir), nullptr, &observer);
  boost::asio::io_context io;
  std::optional<InsertOutcome> single;
  std::vector<InsertOutcome> first;
  std::vector<InsertOutcome> second;

  // A single insert and two batches queue up together: one commit, and each
  // submission gets its own outcomes.
  Gate gate;
  gate.hold(worker, io);
  worker.async_insert(make_event("s", kT0),
                      boost::asio::bind_executor(io, [&](StoreResult<InsertOutcome> r) {
                        REQUIRE(r.ok());
                        single = *r;
                      }));
  std::vector<NewEvent> batch;
  batch.push_back(make_event("a", kT0));
  batch.push_back(make_event("s", kT0));  // the single insert's, just before
  batch.push_back(make_event("b", kT0));
  batch.push_back(make_event("a", kT0));  // twice in the same batch
  worker.async_insert_many(std::move(batch),
                           boost::asio::bind_executor(io, [&](auto r) {
                             REQUIRE(r.ok());
                             first = *r;
                           }));
  std::vector<NewEvent> later;
  later.push_back(make_event("b", kT0));
  later.push_back(make_event("c", kT0));
  worker.async_insert_many(std::move(later),
                           boost::asio::bind_executor(io, [&](auto r) {
                             REQUIRE(r.ok());
                             second = *r;
                           }));
  boost::asio::post(io, [&] { gate.open(); });
  io.run();

  using enum InsertOutcome;
  CHECK(single == queued);
  CHECK(first == std::vector<InsertOutcome>{queued, duplicate, queued, duplicate});
  CHECK(second == std::vector<InsertOutcome>{duplicate, queued});
  CHECK(observer.commits == 1);
  CHECK(observer.events == 7);
}

TEST_CASE("insert_many: a failed commit fails the whole batch", "[storage][worker]") {
  boost::asio::io_context io;
  StorageWorker worker(std::make_unique<FullDiskStore>(), nullptr);
  std::optional<StoreError> error;
  std::vector<NewEvent> batch;
  batch.push_back(make_event("a", kT0));
  batch.push_back(make_event("b", kT0));
  worker.async_insert_many(std::move(batch), boost::asio::bind_executor(io, [&](auto r) {
                             REQUIRE_FALSE(r.ok());
                             error = r.error();
                           }));
  io.run();
  REQUIRE(error);
  CHECK(error->disk_full);
}

namespace {

// Each commit's count of events or results, in order (any thread).
class RecordingObserver : public StorageObserver {
 public:
  void on_commit(std::size_t count, double, bool) override {
    std::lock_guard lock(mutex_);
    counts_.push_back(count);
  }
  void on_space(const ocirelay::metrics::StorageSpace&) override {}
  std::vector<std::size_t> counts() {
    std::lock_guard lock(mutex_);
    return counts_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::size_t> counts_;
};

// A store with `n` events queued for "oic" and taken (inflight): their
// deliveries, for results to be recorded.
std::unique_ptr<Store> store_with_taken(const TempDir& dir, int n,
                                        std::vector<ocirelay::storage::Delivery>& taken) {
  auto store = open_store(dir);
  std::vector<NewEvent> events;
  for (int i = 0; i < n; ++i) events.push_back(make_event(numbered_id(i), kT0 + i));
  ocirelay::storage::test::ok(store->insert_batch(events));
  taken = ocirelay::storage::test::ok(store->fetch_due("oic", kT0 + n, n)).due;
  return store;
}

// A linger longer than any machine's uptime: the first result must not wait
// on it (there was no commit of results before), whenever the clock started.
constexpr std::chrono::hours kForever(24 * 365 * 100);

// Runs `io` until `done` holds, for at most 30 s (a liveness bound, not a
// measurement).
template <class Done>
void run_until(boost::asio::io_context& io, Done done) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

TEST_CASE("attempt results that arrive alone wait for others, until an insert comes",
          "[storage][worker]") {
  TempDir dir;
  RecordingObserver observer;
  std::vector<ocirelay::storage::Delivery> taken;
  StorageWorker worker(store_with_taken(dir, 5, taken), nullptr, &observer, {}, kForever);
  REQUIRE(taken.size() == 5);
  boost::asio::io_context io;
  int recorded = 0;
  auto on_recorded = boost::asio::bind_executor(io, [&](StoreResult<Unit> r) {
    CHECK(r.ok());
    ++recorded;
  });

  // No results were committed before: the first commits at once.
  worker.async_complete(ocirelay::storage::test::delivered(taken[0]), on_recorded);
  run_until(io, [&] { return recorded == 1; });
  CHECK(recorded == 1);
  CHECK(observer.counts() == std::vector<std::size_t>{1});

  // The next four arrive within the linger after it: they wait.
  for (int i = 1; i < 5; ++i) {
    worker.async_complete(ocirelay::storage::test::delivered(taken[i]), on_recorded);
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(300));
  CHECK(recorded == 1);
  CHECK(observer.counts() == std::vector<std::size_t>{1});

  // An insert does not wait: it commits, and the four results with it, in
  // one transaction.
  std::optional<InsertOutcome> inserted;
  worker.async_insert(make_event("new", kT0 + 100),
                      boost::asio::bind_executor(io, [&](StoreResult<InsertOutcome> r) {
                        REQUIRE(r.ok());
                        inserted = *r;
                      }));
  run_until(io, [&] { return recorded == 5 && inserted.has_value(); });
  CHECK(inserted == InsertOutcome::queued);
  CHECK(recorded == 5);
  CHECK(observer.counts() == std::vector<std::size_t>{1, 1 + 4});

  worker.stop();
  auto stats = ocirelay::storage::test::ok(open_store(dir)->stats());
  REQUIRE(stats.size() == 1);
  CHECK(stats[0].pending == 1);  // the new event's; the five were delivered
  CHECK(stats[0].inflight == 0);
}

TEST_CASE("attempt results do not wait once 256 are waiting, nor when the worker stops",
          "[storage][worker]") {
  TempDir dir;
  RecordingObserver observer;
  std::vector<ocirelay::storage::Delivery> taken;
  auto worker =
      std::make_unique<StorageWorker>(store_with_taken(dir, 300, taken), nullptr, &observer,
                                      ocirelay::storage::SpaceLimits{}, kForever);
  REQUIRE(taken.size() == 300);
  boost::asio::io_context io;
  int recorded = 0;
  auto on_recorded = boost::asio::bind_executor(io, [&](StoreResult<Unit> r) {
    CHECK(r.ok());
    ++recorded;
  });
  worker->async_complete(ocirelay::storage::test::delivered(taken[0]), on_recorded);
  run_until(io, [&] { return recorded == 1; });
  REQUIRE(recorded == 1);

  // One waits; 255 more one at a time: the 256th ends the wait, and they
  // commit together.
  worker->async_complete(ocirelay::storage::test::delivered(taken[1]), on_recorded);
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  CHECK(recorded == 1);
  for (int i = 2; i <= 256; ++i) {
    worker->async_complete(ocirelay::storage::test::delivered(taken[i]), on_recorded);
  }
  run_until(io, [&] { return recorded == 257; });
  CHECK(recorded == 257);
  CHECK(observer.counts() == std::vector<std::size_t>{1, 256});

  // The rest wait, until stop(): it commits them before it returns.
  for (int i = 257; i < 300; ++i) {
    worker->async_complete(ocirelay::storage::test::delivered(taken[i]), on_recorded);
  }
  io.restart();
  io.run_for(std::chrono::milliseconds(100));
  CHECK(recorded == 257);
  worker->stop();
  run_until(io, [&] { return recorded == 300; });
  CHECK(recorded == 300);
  CHECK(observer.counts() == std::vector<std::size_t>{1, 256, 43});
  worker.reset();
  // All 300 delivered: nothing left pending or inflight for any destination.
  CHECK(ocirelay::storage::test::ok(open_store(dir)->stats()).empty());
}

TEST_CASE("waiting inserts, results and fetches commit as one transaction, then complete",
          "[storage][worker]") {
  TempDir dir;
  RecordingObserver observer;
  std::vector<ocirelay::storage::Delivery> taken;
  StorageWorker worker(store_with_taken(dir, 3, taken), nullptr, &observer);
  REQUIRE(taken.size() == 3);
  boost::asio::io_context io;

  Gate gate;
  gate.hold(worker, io);
  std::optional<StoreResult<InsertOutcome>> inserted;
  std::optional<StoreResult<Unit>> recorded;
  std::optional<StoreResult<FetchResult>> fetched;
  std::optional<StoreResult<FetchResult>> audit;
  // Observed as each completes: what a second connection finds committed.
  std::optional<std::int64_t> committed_when_fetched;
  const std::string path = dir.file("relay.db");
  worker.async_insert(make_event("new", kT0 + 10, std::vector<std::string>{"oic", "audit"}),
                      boost::asio::bind_executor(io, [&](auto r) { inserted = r; }));
  worker.async_complete_many(
      {ocirelay::storage::test::delivered(taken[0]), ocirelay::storage::test::delivered(taken[1])},
      boost::asio::bind_executor(io, [&](auto r) { recorded = r; }));
  worker.async_fetch_due("oic", kT0 + 20, 10, boost::asio::bind_executor(io, [&](auto r) {
                           fetched = r;
                           committed_when_fetched = ocirelay::storage::test::query_int(
                               path, "SELECT count(*) FROM events WHERE event_id = 'new'");
                         }));
  worker.async_fetch_due("audit", kT0 + 20, 10,
                         boost::asio::bind_executor(io, [&](auto r) { audit = r; }));
  boost::asio::post(io, [&] { gate.open(); });
  run_until(io, [&] { return inserted && recorded && fetched && audit; });

  // One commit for all of them: the insert and the two results counted.
  CHECK(observer.counts() == std::vector<std::size_t>{1 + 2});
  REQUIRE(inserted);
  REQUIRE(inserted->ok());
  CHECK(**inserted == InsertOutcome::queued);
  REQUIRE(recorded);
  CHECK(recorded->ok());
  // The fetches ran after the insert in the same transaction, and were
  // handed out only once it had committed.
  REQUIRE(fetched);
  REQUIRE(fetched->ok());
  REQUIRE((*fetched)->due.size() == 1);  // taken[2] is still in flight
  CHECK((*fetched)->due[0].event_id == "new");
  CHECK(committed_when_fetched == 1);
  REQUIRE(audit);
  REQUIRE(audit->ok());
  REQUIRE((*audit)->due.size() == 1);
  CHECK((*audit)->due[0].event_id == "new");

  worker.stop();
  auto stats = ocirelay::storage::test::ok(open_store(dir)->stats());
  REQUIRE(stats.size() == 2);
  for (const DestinationStats& s : stats) {
    CHECK(s.pending == 0);
    CHECK(s.inflight == (s.destination == "oic" ? 2 : 1));  // taken[2] and "new"
  }
  CHECK(ocirelay::storage::test::counter_mismatches(path) == 0);
}

TEST_CASE("a failed group is written again part by part, each operation with its own outcome",
          "[storage][worker]") {
  TempDir dir;
  RecordingObserver observer;
  std::ostringstream logged;
  auto log = std::make_shared<spdlog::logger>(
      "storage", std::make_shared<spdlog::sinks::ostream_sink_mt>(logged));
  log->set_level(spdlog::level::debug);
  std::vector<ocirelay::storage::Delivery> taken;
  StorageWorker worker(store_with_taken(dir, 3, taken), log, &observer);
  REQUIRE(taken.size() == 3);
  boost::asio::io_context io;

  Gate gate;
  gate.hold(worker, io);
  // The insert fails (the file was replaced under the store); the results
  // and the fetch, which need only the open file, must not fail with it.
  const std::string path = dir.file("relay.db");
  std::filesystem::rename(path, path + ".old");
  std::ofstream(path) << "";
  std::optional<StoreResult<InsertOutcome>> inserted;
  std::optional<StoreResult<Unit>> recorded;
  std::optional<StoreResult<FetchResult>> fetched;
  worker.async_insert(make_event("new", kT0 + 10),
                      boost::asio::bind_executor(io, [&](auto r) { inserted = r; }));
  worker.async_complete(ocirelay::storage::test::retry(taken[0], 1, kT0, 503, "busy"),
                        boost::asio::bind_executor(io, [&](auto r) { recorded = r; }));
  worker.async_fetch_due("oic", kT0 + 20, 10,
                         boost::asio::bind_executor(io, [&](auto r) { fetched = r; }));
  boost::asio::post(io, [&] { gate.open(); });
  run_until(io, [&] { return inserted && recorded && fetched; });

  REQUIRE(inserted);
  REQUIRE_FALSE(inserted->ok());
  CHECK(inserted->error().message.find("deleted or replaced") != std::string::npos);
  REQUIRE(recorded);
  CHECK(recorded->ok());
  // The retried delivery is due again, and the new event was not stored.
  REQUIRE(fetched);
  REQUIRE(fetched->ok());
  REQUIRE((*fetched)->due.size() == 1);
  CHECK((*fetched)->due[0].id == taken[0].id);
  // The group is not a commit; then the insert (failed) and the results.
  CHECK(observer.counts() == std::vector<std::size_t>{1, 1});
  CHECK(logged.str().find("grouped transaction failed") != std::string::npos);
  CHECK(logged.str().find("storing 1 events failed") != std::string::npos);
}

TEST_CASE("a fetch submitted after another call runs after that call, not in the group before it",
          "[storage][worker]") {
  TempDir dir;
  std::vector<ocirelay::storage::Delivery> taken;
  StorageWorker worker(store_with_taken(dir, 3, taken), nullptr);
  REQUIRE(taken.size() == 3);
  boost::asio::io_context io;

  Gate gate;
  gate.hold(worker, io);
  std::optional<StoreResult<InsertOutcome>> inserted;
  std::optional<StoreResult<std::int64_t>> released;
  std::optional<StoreResult<FetchResult>> fetched;
  worker.async_insert(make_event("new", kT0 + 10),
                      boost::asio::bind_executor(io, [&](auto r) { inserted = r; }));
  worker.async_release_inflight(boost::asio::bind_executor(io, [&](auto r) { released = r; }));
  worker.async_fetch_due("oic", kT0 + 20, 10,
                         boost::asio::bind_executor(io, [&](auto r) { fetched = r; }));
  boost::asio::post(io, [&] { gate.open(); });
  run_until(io, [&] { return inserted && released && fetched; });

  REQUIRE(released);
  REQUIRE(released->ok());
  CHECK(**released == 3);
  // Fetched after the release: the three released and the new one.
  REQUIRE(fetched);
  REQUIRE(fetched->ok());
  CHECK((*fetched)->due.size() == 4);
}
