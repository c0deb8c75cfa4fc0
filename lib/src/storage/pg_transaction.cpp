#include "storage/pg_transaction.hpp"

namespace ocirelay::storage {

PgTransaction::~PgTransaction() {
  if (open_ && !connection_.broken()) connection_.exec("ROLLBACK");
}

PgResult PgTransaction::begin() {
  PgResult result = connection_.exec("BEGIN");
  open_ = result.ok();
  return result;
}

PgResult PgTransaction::begin_async_commit() {
  // Two statements in one simple query: one round trip, and the SET LOCAL
  // applies to the transaction the BEGIN opened.
  PgResult result = connection_.exec_script("BEGIN; SET LOCAL synchronous_commit = off");
  open_ = result.ok() || !connection_.broken();
  return result;
}

PgResult PgTransaction::commit() {
  PgResult result = connection_.exec("COMMIT");
  // After COMMIT the transaction is over whatever the outcome (a failed
  // COMMIT rolls back).
  open_ = false;
  return result;
}

}  // namespace ocirelay::storage
