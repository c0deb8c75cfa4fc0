// StorageWorker with a real SQLite store and storage.max_size: new events are
// refused at the quota while deliveries go on, the space they free is reused,
// and the write-ahead log goes back to the file system when storage is idle.
// (The reserve on a real full file system needs root: tests/integration/disk_test.cpp.)
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/temp_dir.hpp"
#include "unit/storage/store_test_support.hpp"

using ocirelay::Unit;
using ocirelay::metrics::StorageObserver;
using ocirelay::metrics::StorageSpace;
using ocirelay::storage::AttemptResult;
using ocirelay::storage::FetchResult;
using ocirelay::storage::InsertOutcome;
using ocirelay::storage::open_sqlite_store;
using ocirelay::storage::SpaceGuard;
using ocirelay::storage::SpaceLimits;
using ocirelay::storage::SpaceStatus;
using ocirelay::storage::SqliteOptions;
using ocirelay::storage::StorageWorker;
using ocirelay::storage::StoreResult;
using ocirelay::storage::test::delivered;
using ocirelay::storage::test::kT0;
using ocirelay::storage::test::make_event;
using ocirelay::storage::test::numbered_id;
using ocirelay::test::TempDir;
using namespace std::chrono_literals;

namespace {

class SpaceObserver : public StorageObserver {
 public:
  void on_commit(std::size_t, double, bool) override {}
  void on_space(const StorageSpace& space) override {
    ++measurements;
    if (space.full) ++refusing;
  }
  std::atomic<int> measurements{0};
  std::atomic<int> refusing{0};
};

// Runs one asynchronous operation to completion on a private io_context.
template <class T, class Start>
StoreResult<T> run(Start start) {
  boost::asio::io_context io;
  std::optional<StoreResult<T>> out;
  start(boost::asio::bind_executor(io, [&](StoreResult<T> r) { out.emplace(std::move(r)); }));
  io.run();
  return std::move(*out);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

struct Logged {
  std::ostringstream text;
  std::shared_ptr<spdlog::logger> log = std::make_shared<spdlog::logger>(
      "storage-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(text));
  std::string str() {
    log->flush();
    return text.str();
  }
};

std::size_t count(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("at storage.max_size new events are refused, deliveries go on and free room again",
          "[storage][worker][space]") {
  TempDir dir;
  Logged logged;
  SpaceObserver observer;
  SpaceLimits limits;
  limits.max_size = 1024 * 1024;
  auto store = open_sqlite_store(SqliteOptions{dir.file("relay.db")});
  REQUIRE(store.ok());
  StorageWorker worker(std::move(store).value(), logged.log, &observer, limits);
  REQUIRE(worker.space().measured);
  CHECK(worker.space().accepting);
  CHECK(worker.space().max_size == limits.max_size);
  CHECK(observer.measurements >= 1);  // from the constructor

  // Fill the quota; each event carries a 3000-byte body.
  const std::string padding(3000, ' ');
  int accepted = 0;
  std::optional<ocirelay::storage::StoreError> refused;
  for (int i = 0; i < 2000 && !refused; ++i) {
    auto r = run<InsertOutcome>([&](auto handler) {
      worker.async_insert(make_event(numbered_id(i), kT0, {"oic"}, "{}" + padding),
                          std::move(handler));
    });
    if (r.ok()) {
      ++accepted;
    } else {
      refused = r.error();
    }
  }
  REQUIRE(refused.has_value());
  CHECK(refused->space_refused);
  CHECK(refused->disk_full);
  INFO("accepted " << accepted << " events before the quota");
  CHECK(accepted > 100);  // the quota holds a few hundred of them
  const SpaceStatus full = worker.space();
  CHECK_FALSE(full.accepting);
  CHECK(full.limit == SpaceGuard::Limit::quota);
  CHECK(observer.refusing >= 1);
  // The database stayed inside its quota: what it uses, WAL included, is
  // below max_size less the part kept for bookkeeping, plus one event.
  CHECK(full.sample.database_bytes + full.sample.wal_bytes - full.sample.reusable_bytes <
        limits.max_size);
  // Refused without a write, logged once with the figures.
  CHECK(count(logged.str(), "refusing new events (503) for lack of space") == 1);
  CHECK_THAT(logged.str(), Catch::Contains("max_size 1MiB"));
  auto again = run<InsertOutcome>(
      [&](auto handler) { worker.async_insert(make_event("one-more", kT0), std::move(handler)); });
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().space_refused);

  // Deliveries work inside the quota: take every event, report it delivered.
  auto fetched = run<FetchResult>(
      [&](auto handler) { worker.async_fetch_due("oic", kT0 + 1, 100000, std::move(handler)); });
  REQUIRE(fetched.ok());
  REQUIRE(fetched->due.size() == static_cast<std::size_t>(accepted));
  for (const auto& d : fetched->due) {
    auto done = run<Unit>(
        [&](auto handler) { worker.async_complete(delivered(d.id), std::move(handler)); });
    REQUIRE(done.ok());
  }

  // The freed pages count: the next event is taken. A refusing worker looks
  // again when an insert comes (at most every 100 ms), so this one need not
  // wait for the periodic measurement (every second).
  std::this_thread::sleep_for(150ms);
  auto after = run<InsertOutcome>(
      [&](auto handler) { worker.async_insert(make_event("after", kT0), std::move(handler)); });
  REQUIRE(after.ok());
  CHECK(*after == InsertOutcome::queued);
  CHECK(worker.space().accepting);
  CHECK(worker.space().sample.reusable_bytes > 0);
  CHECK(count(logged.str(), "accepting new events again") == 1);
}

TEST_CASE("an idle worker checkpoints and truncates the write-ahead log",
          "[storage][worker][space]") {
  TempDir dir;
  auto store = open_sqlite_store(SqliteOptions{dir.file("relay.db")});
  REQUIRE(store.ok());
  StorageWorker worker(std::move(store).value(), nullptr);
  for (int i = 0; i < 20; ++i) {
    auto r = run<InsertOutcome>([&](auto handler) {
      worker.async_insert(make_event(numbered_id(i), kT0), std::move(handler));
    });
    REQUIRE(r.ok());
  }
  const std::string wal = dir.file("relay.db-wal");
  REQUIRE(std::filesystem::file_size(wal) > 0);
  // Nothing is written for a second: the next measurement gives it back.
  CHECK(wait_until([&] { return std::filesystem::file_size(wal) == 0; }, 20s));
  auto stats = run<std::vector<ocirelay::storage::DestinationStats>>(
      [&](auto handler) { worker.async_stats(std::move(handler)); });
  REQUIRE(stats.ok());
  REQUIRE(stats->size() == 1);
  CHECK((*stats)[0].pending == 20);  // nothing lost by the checkpoint
}
