// PgTransaction: one transaction on a PgConnection: begin(), then commit();
// rolled back on destruction unless committed (a broken connection has
// nothing to roll back).
//
// Thread and lifetime contract: on the connection's thread; must not outlive
// the connection.
#pragma once

#include "storage/pg_connection.hpp"
#include "storage/pg_result.hpp"

namespace ocirelay::storage {

class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& connection) : connection_(connection) {}
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;

  PgResult begin();
  // A transaction whose commit does not wait for the WAL flush
  // (synchronous_commit off, for this transaction only): begun in the same
  // round trip.
  PgResult begin_async_commit();
  PgResult commit();

 private:
  PgConnection& connection_;
  bool open_ = false;
};

}  // namespace ocirelay::storage
