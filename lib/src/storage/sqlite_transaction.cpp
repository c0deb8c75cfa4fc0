#include "storage/sqlite_transaction.hpp"

#include <sqlite3.h>

namespace ocirelay::storage {

SqliteTransaction::~SqliteTransaction() {
  // SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_IOERR,
  // SQLITE_NOMEM...); only roll back what is still open.
  if (open_ && connection_.in_transaction()) {
    connection_.rollback();
  }
}

int SqliteTransaction::begin() {
  if (connection_.grouped()) {
    // Never run a grouped call's statements in autocommit mode.
    return connection_.in_transaction() ? SQLITE_OK : SQLITE_ABORT;
  }
  if (connection_.in_transaction()) {
    // Left over from an earlier failure whose rollback failed too.
    connection_.rollback();
  }
  const int rc = connection_.begin_immediate();
  open_ = rc == SQLITE_OK;
  return rc;
}

int SqliteTransaction::commit() {
  if (connection_.grouped()) {
    return SQLITE_OK;  // the group commits
  }
  const int rc = connection_.commit();
  if (rc == SQLITE_OK) {
    open_ = false;
  }
  return rc;
}

}  // namespace ocirelay::storage
