#include "ocirelay/storage/storage_check.hpp"

#include <cerrno>
#include <map>
#include <set>
#include <tuple>

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ocirelay/common/directories.hpp"
#include "storage/sqlite_connection.hpp"
#include "storage/sqlite_schema.hpp"
#include "storage/storage_check_rules.hpp"

namespace ocirelay::storage {

namespace {

constexpr int kMaxIntegrityMessages = 20;

using Row = std::vector<std::string>;

// Runs a query, collecting the first `columns` columns of every row as text.
// SQLITE_OK or an error.
int query_rows(SqliteConnection& db, const std::string& sql, int columns, std::vector<Row>& rows) {
  SqliteStatement statement;
  int rc = db.prepare(statement, sql);
  if (rc != SQLITE_OK) {
    return rc;
  }
  while ((rc = statement.step()) == SQLITE_ROW) {
    Row row;
    for (int i = 0; i < columns; ++i) row.push_back(statement.column_text(i));
    rows.push_back(std::move(row));
  }
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

class Checker {
 public:
  explicit Checker(StorageCheckReport& report) : r_(report) {}

  void run() {
    if (!inspect_files()) return;
    int rc = db_.open_read_only(r_.path, !r_.wal_present);
    if (rc != SQLITE_OK) {
      cannot_open("cannot open: " + db_.describe(rc));
      return;
    }
    auto version = read_sqlite_schema_version(db_, r_.path);
    if (!version) {
      // The message already names the path.
      r_.outcome = StorageCheckReport::Outcome::cannot_open;
      r_.cannot_open_reason = version.error().message;
      return;
    }
    r_.schema_version = *version;
    db_.query_int("PRAGMA page_size", r_.page_size);
    db_.query_int("PRAGMA page_count", r_.page_count);
    db_.query_int("PRAGMA freelist_count", r_.free_pages);
    if (r_.schema_version == 0) {
      r_.notes.push_back(
          "the database is empty: no schema yet (the relay creates it when it starts)");
      return;
    }
    check_integrity();
    if (check_schema()) {
      count_rows();
      check_counters();
      check_rows();
    } else {
      r_.notes.push_back("content checks skipped: the schema is not the expected one");
    }
  }

 private:
  void cannot_open(const std::string& why) {
    r_.outcome = StorageCheckReport::Outcome::cannot_open;
    r_.cannot_open_reason = r_.path + ": " + why;
  }

  void problem(std::string text) {
    r_.outcome = StorageCheckReport::Outcome::problems;
    r_.problems.push_back(std::move(text));
  }

  // A query that must work on a readable file; a failure is a problem.
  bool rows(const std::string& what, const std::string& sql, int columns, std::vector<Row>& out) {
    const int rc = query_rows(db_, sql, columns, out);
    if (rc != SQLITE_OK) {
      problem("cannot read " + what + ": " + db_.describe(rc));
      return false;
    }
    return true;
  }

  std::int64_t count(const std::string& what, const std::string& sql) {
    std::int64_t n = 0;
    const int rc = db_.query_int(sql.c_str(), n);
    if (rc != SQLITE_OK) {
      problem("cannot read " + what + ": " + db_.describe(rc));
      return 0;
    }
    return n;
  }

  bool inspect_files() {
    struct stat st {};
    if (::stat(r_.path.c_str(), &st) != 0) {
      const int error = errno;
      cannot_open(error == ENOENT
                      ? std::string("does not exist (nothing to check; the relay creates it at "
                                    "its first start)")
                      : "cannot access: " + os_error_text(error));
      return false;
    }
    if (S_ISDIR(st.st_mode)) {
      cannot_open("is a directory, not a database file");
      return false;
    }
    if (!S_ISREG(st.st_mode)) {
      cannot_open("is not a regular file");
      return false;
    }
    if (::access(r_.path.c_str(), R_OK) != 0) {
      cannot_open("cannot open for reading: " + os_error_text(errno));
      return false;
    }
    r_.file_bytes = static_cast<std::int64_t>(st.st_size);
    const std::string wal = r_.path + "-wal";
    if (::stat(wal.c_str(), &st) == 0) {
      r_.wal_present = true;
      r_.wal_bytes = static_cast<std::int64_t>(st.st_size);
    }
    return true;
  }

  void check_integrity() {
    std::vector<Row> out;
    if (!rows("the integrity check",
              "PRAGMA integrity_check(" + std::to_string(kMaxIntegrityMessages) + ")", 1, out)) {
      return;
    }
    if (out.size() == 1 && out[0][0] == "ok") return;
    for (const Row& row : out) problem("SQLite integrity check: " + row[0]);
  }

  // Every table, index and trigger of the current version, with the same
  // definition, and nothing else.
  // An older version the relay still upgrades is compared with that version.
  bool check_schema() {
    if (r_.schema_version < 1 || r_.schema_version > kSqliteSchemaVersion) {
      problem("schema version " + std::to_string(r_.schema_version) + ", expected " +
              std::to_string(kSqliteSchemaVersion));
      return false;
    }
    if (r_.schema_version < kSqliteSchemaVersion) {
      r_.notes.push_back("schema version " + std::to_string(r_.schema_version) +
                         ": the relay upgrades it to " + std::to_string(kSqliteSchemaVersion) +
                         " at its next start");
    }
    SqliteConnection reference;
    int rc = reference.open_in_memory();
    if (rc == SQLITE_OK) rc = reference.exec(sqlite_schema_sql(r_.schema_version).c_str());
    const std::string list = "SELECT type, name, sql FROM sqlite_schema ORDER BY type, name";
    std::vector<Row> expected;
    if (rc == SQLITE_OK) rc = query_rows(reference, list, 3, expected);
    if (rc != SQLITE_OK) {
      problem("internal error: cannot build the reference schema: " + reference.describe(rc));
      return false;
    }
    std::vector<Row> actual;
    if (!rows("the schema", list, 3, actual)) return false;
    std::map<std::pair<std::string, std::string>, std::string> found;
    for (const Row& row : actual) found[{row[0], row[1]}] = row[2];
    bool same = true;
    for (const Row& row : expected) {
      auto it = found.find({row[0], row[1]});
      if (it == found.end()) {
        problem("schema: " + row[0] + " " + row[1] + " is missing");
        same = false;
        continue;
      }
      if (it->second != row[2]) {
        problem("schema: " + row[0] + " " + row[1] + " differs from schema version " +
                std::to_string(r_.schema_version));
        same = false;
      }
      found.erase(it);
    }
    for (const auto& [key, sql] : found) {
      // sqlite_sequence appears with the first AUTOINCREMENT row.
      if (key.first == "table" && key.second == "sqlite_sequence") continue;
      problem("schema: unexpected " + key.first + " " + key.second);
    }
    return same;
  }

  void count_rows() {
    r_.events = count("events", "SELECT count(*) FROM events");
    r_.seen = count("seen", "SELECT count(*) FROM seen");
    std::vector<Row> out;
    if (!rows("deliveries", "SELECT state, count(*) FROM deliveries GROUP BY state", 2, out))
      return;
    for (const Row& row : out) {
      const std::int64_t n = std::stoll(row[1]);
      if (row[0] == "pending") {
        r_.pending = n;
      } else if (row[0] == "inflight") {
        r_.inflight = n;
      } else if (row[0] == "dead") {
        r_.dead = n;
      } else {
        problem(plural(n, "delivery", "deliveries") + " in unknown state '" + row[0] + "'");
      }
    }
    if (r_.inflight > 0) {
      r_.notes.push_back(
          plural(r_.inflight, "delivery is", "deliveries are") +
          " marked in flight: the relay is running or did not stop cleanly; the next start "
          "queues them again");
    }
    if (r_.dead > 0) {
      r_.notes.push_back(plural(r_.dead, "dead letter", "dead letters") +
                         " kept (ocirelayctl dlq list)");
    }
  }

  // delivery_counts (kept by the store, by triggers in version 1) against
  // COUNT(*) per destination and state.
  void check_counters() {
    std::vector<Row> out;
    if (!rows("the delivery counters", R"sql(
        SELECT destination, state, counted, actual FROM (
          SELECT c.destination, c.state, c.n AS counted,
                 (SELECT count(*) FROM deliveries d
                   WHERE d.destination = c.destination AND d.state = c.state) AS actual
            FROM delivery_counts c
          UNION ALL
          SELECT d.destination, d.state, 0, count(*) FROM deliveries d
           WHERE NOT EXISTS (SELECT 1 FROM delivery_counts c
                              WHERE c.destination = d.destination AND c.state = d.state)
           GROUP BY d.destination, d.state)
         WHERE counted != actual ORDER BY destination, state)sql",
              4, out)) {
      return;
    }
    for (const Row& row : out) {
      problem("delivery counter for destination '" + row[0] + "' state '" + row[1] + "' says " +
              row[2] + ", the table holds " + row[3] + " (the queue gauges are wrong)");
    }
  }

  // States the relay never writes: those of both backends, and one of
  // SQLite's.
  void check_rows() {
    const StorageCheckRule sequence{
        "deliveries with an id above the AUTOINCREMENT sequence (ids could be reused)",
        "SELECT count(*) FROM deliveries WHERE id > coalesce("
        "(SELECT seq FROM sqlite_sequence WHERE name = 'deliveries'), 0)"};
    for (const StorageCheckRule& rule : kStorageCheckRules) check_rule(rule);
    check_rule(sequence);
  }

  void check_rule(const StorageCheckRule& rule) {
    const std::int64_t n = count(rule.what, rule.sql);
    if (n > 0) problem(std::to_string(n) + " " + rule.what);
  }

  StorageCheckReport& r_;
  SqliteConnection db_;
};

}  // namespace

StorageCheckReport check_sqlite_storage(const std::string& path) {
  StorageCheckReport report;
  report.path = path;
  if (path.empty()) {
    report.outcome = StorageCheckReport::Outcome::cannot_open;
    report.cannot_open_reason = "storage path is empty";
    return report;
  }
  Checker(report).run();
  return report;
}

std::string format_storage_check(const StorageCheckReport& r) {
  std::string out = "storage check: " + r.path + "\n";
  if (r.outcome == StorageCheckReport::Outcome::cannot_open) {
    out += "  cannot check: " + r.cannot_open_reason + "\n";
    out += "result: CANNOT OPEN (exit " + std::to_string(kStorageCheckCannotOpen) + ")\n";
    return out;
  }
  const bool postgresql = r.backend == StorageCheckReport::Backend::postgresql;
  if (postgresql) {
    // The server keeps its own write-ahead log: nothing to say about it.
    out += "  server: PostgreSQL " + r.server_version + ", schema version " +
           std::to_string(r.schema_version) + "\n";
  } else {
    out += "  file: " + std::to_string(r.file_bytes) + " bytes, schema version " +
           std::to_string(r.schema_version) + ", " + std::to_string(r.page_count) + " pages of " +
           std::to_string(r.page_size) + " bytes (" + std::to_string(r.free_pages) + " free)\n";
    if (r.wal_present) {
      out += "  write-ahead log: " + r.path + "-wal present (" + std::to_string(r.wal_bytes) +
             " bytes): the relay is running or did not stop cleanly; the transactions "
             "committed in it are part of this check\n";
    } else {
      out += "  write-ahead log: none (the relay stopped cleanly, or never ran)\n";
    }
  }
  if (r.schema_version != 0) {
    out += "  queue: " + plural(r.events, "event", "events") + " stored; deliveries " +
           std::to_string(r.pending) + " pending, " + std::to_string(r.inflight) + " in flight, " +
           std::to_string(r.dead) + " dead; " + plural(r.seen, "event ID", "event IDs") +
           " remembered for deduplication\n";
    out += postgresql ? "  checked: schema, claims and leases, row states\n"
                      : "  checked: SQLite integrity, schema, delivery counters, row states\n";
  }
  for (const auto& note : r.notes) out += "  note: " + note + "\n";
  for (const auto& p : r.problems) out += "  PROBLEM: " + p + "\n";
  if (r.outcome == StorageCheckReport::Outcome::ok) {
    out += "result: OK\n";
  } else {
    out +=
        "result: " + plural(static_cast<std::int64_t>(r.problems.size()), "problem", "problems") +
        " found (exit " + std::to_string(kStorageCheckProblems) +
        "); see \"Storage check and recovery\" in docs/operations.md\n";
  }
  return out;
}

int storage_check_exit_code(const StorageCheckReport& report) noexcept {
  switch (report.outcome) {
    case StorageCheckReport::Outcome::ok:
      return kStorageCheckOk;
    case StorageCheckReport::Outcome::problems:
      return kStorageCheckProblems;
    case StorageCheckReport::Outcome::cannot_open:
      return kStorageCheckCannotOpen;
  }
  return kStorageCheckCannotOpen;
}

}  // namespace ocirelay::storage
