// Readiness over a real StorageWorker and PgStore on a throwaway PostgreSQL
// server (tests/support/pg_cluster) that the test stops and starts: not
// ready while the database cannot be reached, ready again as soon as it can,
// and a commit that failed during the outage does not hold the relay back
// after it.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "ocirelay/ingress/readiness.hpp"
#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/pg_cluster.hpp"

using namespace std::chrono_literals;
using ocirelay::ingress::Readiness;
using ocirelay::storage::StorageWorker;
using ocirelay::test::PgCluster;

namespace {

// Whether one stats() call through the worker succeeded.
bool stats_ok(StorageWorker& worker) {
  std::promise<bool> done;
  worker.async_stats([&done](auto result) { done.set_value(result.ok()); });
  return done.get_future().get();
}

std::optional<std::string> reason(const Readiness& readiness) {
  const auto r = readiness.not_ready_reason();
  return r ? std::optional<std::string>(*r) : std::nullopt;
}

}  // namespace

TEST_CASE("readiness follows whether the PostgreSQL database can be reached",
          "[ingress][readiness][pg]") {
  if (!PgCluster::available()) return;
  PgCluster own;  // stopped and started by this test
  ocirelay::storage::PostgresqlOptions options;
  options.url = own.create_database("readiness");
  options.node_id = "relay-a";
  options.connect_timeout = 2s;
  auto store = ocirelay::storage::open_postgresql_store(options);
  REQUIRE(store.ok());
  StorageWorker worker(std::move(store).value(), nullptr);
  Readiness readiness({}, worker);
  CHECK(worker.shared());
  REQUIRE(stats_ok(worker));
  CHECK(reason(readiness) == std::nullopt);

  own.stop_server();
  CHECK_FALSE(stats_ok(worker));
  CHECK(worker.unreachable());
  CHECK(reason(readiness) == "storage unreachable");
  readiness.commit_failed();  // an event refused during the outage
  CHECK(worker.recoveries() == 0);

  own.start_server();
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!stats_ok(worker) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  CHECK_FALSE(worker.unreachable());
  CHECK(worker.recoveries() == 1);
  // The failure from before the recovery no longer counts...
  CHECK(reason(readiness) == std::nullopt);
  // ...one after it does.
  readiness.commit_failed();
  CHECK(reason(readiness) == "storage cannot commit");
  readiness.commit_succeeded();
  CHECK(reason(readiness) == std::nullopt);
}
