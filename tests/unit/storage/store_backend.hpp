// StoreBackend: a fresh store of one backend, for the cases that check the
// same behaviour on SQLite and PostgreSQL (GENERATE(from_range(backends()))),
// and a way to read and change its database behind the store's back.
//
// Thread and lifetime contract: one test thread; the SQLite file lives in a
// temporary directory removed with the object, the PostgreSQL database in
// the test binary's cluster (PgCluster::shared()), removed with it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "support/temp_dir.hpp"

namespace ocirelay::storage::test {

class StoreBackend {
 public:
  // "sqlite" or "postgresql".
  explicit StoreBackend(std::string backend);

  // A store on the backend's database; for PostgreSQL, as relay `node`.
  // Fails the test when it cannot be opened.
  std::unique_ptr<Store> open(const std::string& node = "node-a") const;

  bool postgresql() const noexcept { return name == "postgresql"; }
  // Runs a single-value query, or SQL without a result, on the database
  // through a connection of its own (SQL both backends understand).
  std::int64_t query_int(const std::string& sql) const;
  void exec(const std::string& sql) const;

  std::string name;
  ocirelay::test::TempDir dir;
  std::string path;  // sqlite: the database file
  std::string url;   // postgresql: the test's database
};

// "sqlite" and, when PostgreSQL is installed, "postgresql".
std::vector<std::string> backends();

}  // namespace ocirelay::storage::test
