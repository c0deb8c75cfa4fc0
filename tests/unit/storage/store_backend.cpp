#include "unit/storage/store_backend.hpp"

#include <utility>

#include <catch2/catch.hpp>

#include "support/pg_cluster.hpp"
#include "unit/storage/store_test_support.hpp"

namespace ocirelay::storage::test {

namespace {

std::string database_of(const std::string& url) { return url.substr(url.rfind('/') + 1); }

}  // namespace

StoreBackend::StoreBackend(std::string backend) : name(std::move(backend)) {
  if (postgresql()) {
    url = ocirelay::test::PgCluster::shared()->create_database("store");
  } else {
    path = dir.file("relay.db");
  }
}

std::unique_ptr<Store> StoreBackend::open(const std::string& node) const {
  PostgresqlOptions options;
  options.url = url;
  options.node_id = node;
  options.lease = std::chrono::milliseconds(30'000);
  auto store =
      postgresql() ? open_postgresql_store(options) : open_sqlite_store(SqliteOptions{path});
  if (!store) FAIL("open failed: " << store.error().message);
  return std::move(store).value();
}

std::int64_t StoreBackend::query_int(const std::string& sql) const {
  if (!postgresql()) return ocirelay::storage::test::query_int(path, sql);
  return std::stoll(ocirelay::test::PgCluster::shared()->psql(database_of(url), sql));
}

void StoreBackend::exec(const std::string& sql) const {
  if (postgresql()) {
    ocirelay::test::PgCluster::shared()->psql(database_of(url), sql);
  } else {
    exec_sql(path, sql);
  }
}

std::vector<std::string> backends() {
  if (ocirelay::test::PgCluster::shared() == nullptr) return {"sqlite"};
  return {"sqlite", "postgresql"};
}

}  // namespace ocirelay::storage::test
