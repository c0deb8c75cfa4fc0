// check_postgresql_storage(): `ocirelayd storage check` on the PostgreSQL
// database of storage.postgresql (storage_check.hpp).
#include <set>
#include <string>
#include <utility>

#include "ocirelay/storage/storage_check.hpp"
#include "storage/pg_probe.hpp"
#include "storage/pg_schema.hpp"
#include "storage/storage_check_rules.hpp"

namespace ocirelay::storage {

namespace {

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// PgStorageChecker: one check, filling its report. Stack-only, on the
// caller's thread; owns the connection, closed with it.
class PgStorageChecker {
 public:
  explicit PgStorageChecker(StorageCheckReport& report) : r_(report) {}

  void run(const PostgresqlOptions& options) {
    auto db = connect_read_only(options, "ocirelayd storage check");
    if (!db) {
      cannot_open(db.error().message);
      return;
    }
    db_ = std::move(db).value();
    auto probe = read_probe(db_);
    if (!probe) {
      cannot_open(probe.error().message);
      return;
    }
    r_.path = "postgresql database " + probe.value().database;
    r_.server_version = probe.value().server_version;
    r_.schema_version = probe.value().schema_version;
    switch (probe.value().schema) {
      case PostgresqlProbe::Schema::will_be_created:
        r_.notes.push_back(
            "the database has no ocirelay schema yet (the first relay to start creates it)");
        return;
      case PostgresqlProbe::Schema::newer:
        problem("schema version " + std::to_string(r_.schema_version) +
                " is newer than this ocirelayd supports (" + std::to_string(kPgSchemaVersion) +
                "); check it with the ocirelayd the relays run");
        r_.notes.push_back("content checks skipped: the schema is not the expected one");
        return;
      case PostgresqlProbe::Schema::will_be_upgraded:
        r_.notes.push_back("schema version " + std::to_string(r_.schema_version) +
                           ": the first relay of this version to start upgrades it to " +
                           std::to_string(kPgSchemaVersion));
        break;
      case PostgresqlProbe::Schema::current:
        break;
    }
    if (!check_schema()) {
      r_.notes.push_back("content checks skipped: the schema is not the expected one");
      return;
    }
    count_rows();
    check_claims();
    check_rows();
  }

 private:
  void cannot_open(std::string why) {
    r_.outcome = StorageCheckReport::Outcome::cannot_open;
    r_.cannot_open_reason = std::move(why);
  }

  void problem(std::string text) {
    r_.outcome = StorageCheckReport::Outcome::problems;
    r_.problems.push_back(std::move(text));
  }

  // A query that must work on a database with the schema; a failure is a
  // problem (and leaves the transaction aborted: later queries fail too).
  bool query(const std::string& what, const char* sql, PgResult& out,
             const PgParams& params = PgParams{}) {
    out = db_.exec(sql, params);
    if (!out.ok()) {
      problem("cannot read " + what + ": " + PgConnection::error(out, what).message);
      return false;
    }
    return true;
  }

  std::int64_t count(const std::string& what, const char* sql) {
    PgResult r;
    if (!query(what, sql, r) || r.rows() != 1) return 0;
    return r.int64(0, 0);
  }

  // The tables, indexes and sequence of the current schema (pg_schema.cpp), in the
  // schema the relays' search_path finds them in. Definitions are the
  // migrations'; only their presence is checked.
  bool check_schema() {
    static const char* const kExpected[] = {
        "table events",
        "table deliveries",
        "table seen",
        "table ocirelay_schema",
        "index deliveries_due",
        "index deliveries_claims",
        "index deliveries_claimed_by",
        "index deliveries_age",
        "index deliveries_event",
        "index seen_age",
        "sequence delivery_claims",
    };
    PgResult r;
    if (!query("the schema",
               "SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence'"
               " ELSE 'index' END || ' ' || c.relname"
               " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
               " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i', 'p', 'S')",
               r)) {
      return false;
    }
    std::set<std::string> found;
    for (int row = 0; row < r.rows(); ++row) found.insert(r.bytes(row, 0));
    bool complete = true;
    for (const char* object : kExpected) {
      if (found.count(object) == 0) {
        problem(std::string("schema: ") + object + " is missing");
        complete = false;
      }
    }
    return complete;
  }

  void count_rows() {
    r_.events = count("events", "SELECT count(*) FROM events");
    r_.seen = count("seen", "SELECT count(*) FROM seen");
    PgResult r;
    if (!query("deliveries", "SELECT state, count(*) FROM deliveries GROUP BY state", r)) return;
    for (int row = 0; row < r.rows(); ++row) {
      const std::string state = r.bytes(row, 0);
      const std::int64_t n = r.int64(row, 1);
      if (state == "pending") {
        r_.pending = n;
      } else if (state == "inflight") {
        r_.inflight = n;
      } else if (state == "dead") {
        r_.dead = n;
      } else {
        problem(plural(n, "delivery", "deliveries") + " in unknown state '" + state + "'");
      }
    }
    if (r_.dead > 0) {
      r_.notes.push_back(plural(r_.dead, "dead letter", "dead letters") +
                         " kept (ocirelayctl dlq list)");
    }
  }

  // Who holds the in-flight deliveries, and whose lease ran out.
  void check_claims() {
    PgResult r;
    if (!query("the claims",
               "SELECT claimed_by, count(*), count(*) FILTER (WHERE lease_until <= $1)"
               " FROM deliveries WHERE state = 'inflight' AND claimed_by IS NOT NULL"
               " GROUP BY claimed_by ORDER BY claimed_by COLLATE \"C\"",
               r, PgParams{}.int64(now_millis()))) {
      return;
    }
    std::string holders;
    for (int row = 0; row < r.rows(); ++row) {
      r_.inflight_by_node.push_back(NodeInflight{r.bytes(row, 0), r.int64(row, 1)});
      r_.expired_leases += r.int64(row, 2);
      holders +=
          (holders.empty() ? "" : ", ") + r.bytes(row, 0) + " " + std::to_string(r.int64(row, 1));
    }
    if (!holders.empty()) r_.notes.push_back("in flight by relay: " + holders);
    if (r_.expired_leases > 0) {
      r_.notes.push_back(
          plural(r_.expired_leases, "delivery is", "deliveries are") +
          " in flight with its lease run out (its relay stopped or lost the database): the next "
          "relay to fetch for that destination takes it again");
    }
  }

  // States the relays never write (most are also constraints of the schema:
  // finding one means the schema or the data was changed by hand): those of
  // both backends, and claims.
  void check_rows() {
    const StorageCheckRule claims{
        "in-flight deliveries without a claim, or claims on deliveries not in flight",
        "SELECT count(*) FROM deliveries WHERE (state = 'inflight') <>"
        " (claimed_by IS NOT NULL AND lease_until IS NOT NULL)"};
    for (const StorageCheckRule& rule : kStorageCheckRules) check_rule(rule);
    check_rule(claims);
  }

  void check_rule(const StorageCheckRule& rule) {
    const std::int64_t n = count(rule.what, rule.sql);
    if (n > 0) problem(std::to_string(n) + " " + rule.what);
  }

  StorageCheckReport& r_;
  PgConnection db_;
};

}  // namespace

StorageCheckReport check_postgresql_storage(const PostgresqlOptions& options) {
  StorageCheckReport report;
  report.backend = StorageCheckReport::Backend::postgresql;
  report.path = "postgresql database (storage.postgresql.url)";
  PgStorageChecker(report).run(options);
  return report;
}

}  // namespace ocirelay::storage
