// DeliveryCounts: keeps the delivery_counts table (rows of deliveries per
// destination and state, read by stats()) in step with the deliveries the
// store writes. The statements that change deliveries record each change
// here; write() applies the sum once per (destination, state) before the
// transaction commits, instead of a trigger statement per row.
//
// Thread and lifetime contract: one thread at a time, inside the write
// transactions of SqliteStore and SqliteDeadLetters, on their connection.
// Owned by SqliteStore and declared after its connection. A transaction
// starts with clear() (nothing left over from one that rolled back) and
// calls write() just before its commit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_statement.hpp"

namespace ocirelay::storage {

class DeliveryCounts {
 public:
  explicit DeliveryCounts(SqliteConnection& db) noexcept : db_(db) {}
  DeliveryCounts(const DeliveryCounts&) = delete;
  DeliveryCounts& operator=(const DeliveryCounts&) = delete;

  // Compiles the statement once the schema is in place; SQLITE_OK or an error.
  int prepare();

  void clear() noexcept { deltas_.clear(); }
  // `n` rows of `destination` entered `state` (n < 0: left it).
  void add(std::string_view destination, std::string_view state, std::int64_t n);
  // `n` rows of `destination` went from one state to another.
  void move(std::string_view destination, std::string_view from, std::string_view to,
            std::int64_t n) {
    add(destination, from, -n);
    add(destination, to, n);
  }
  // Applies the recorded changes to delivery_counts and clears them.
  // SQLITE_OK or the first error (the transaction must then roll back).
  int write();

 private:
  struct Delta {
    std::string destination;
    std::string state;
    std::int64_t n = 0;
  };

  SqliteConnection& db_;
  SqliteStatement upsert_;
  // A handful of destinations and three states: a linear search is enough.
  std::vector<Delta> deltas_;
};

}  // namespace ocirelay::storage
