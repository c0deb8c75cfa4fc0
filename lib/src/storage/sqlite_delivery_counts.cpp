#include "storage/sqlite_delivery_counts.hpp"

#include <sqlite3.h>

namespace ocirelay::storage {

namespace {
constexpr const char* kSqlCountAdd =
    "INSERT INTO delivery_counts (destination, state, n) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (destination, state) DO UPDATE SET n = n + excluded.n";
}

int DeliveryCounts::prepare() { return db_.prepare(upsert_, kSqlCountAdd); }

void DeliveryCounts::add(std::string_view destination, std::string_view state, std::int64_t n) {
  if (n == 0) return;
  for (Delta& d : deltas_) {
    if (d.destination == destination && d.state == state) {
      d.n += n;
      return;
    }
  }
  deltas_.push_back(Delta{std::string(destination), std::string(state), n});
}

int DeliveryCounts::write() {
  int rc = SQLITE_OK;
  for (const Delta& d : deltas_) {
    if (d.n == 0) continue;
    SqliteStatement::Scope scope(upsert_);
    rc = upsert_.bind_text(1, d.destination).bind_text(2, d.state).bind(3, d.n).step();
    if (rc != SQLITE_DONE) break;
    rc = SQLITE_OK;
  }
  deltas_.clear();
  return rc;
}

}  // namespace ocirelay::storage
