#include "storage/pg_probe.hpp"

#include <utility>

#include "storage/pg_schema.hpp"

namespace ocirelay::storage {

StoreResult<PgConnection> connect_read_only(const PostgresqlOptions& options,
                                            const char* application) {
  PgConnectOptions connect;
  connect.url = options.url;
  connect.ca_file = options.ca_file;
  connect.connect_timeout = options.connect_timeout;
  connect.application_name = application;
  auto db = PgConnection::connect(connect);
  if (!db) return fail(std::move(db).error());
  PgResult begun = db.value().exec("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
  if (!begun.ok()) return fail(PgConnection::error(begun, "read-only transaction"));
  return db;
}

StoreResult<PostgresqlProbe> read_probe(PgConnection& db) {
  PostgresqlProbe probe;
  PgResult r = db.exec(
      "SELECT split_part(current_setting('server_version'), ' ', 1),"
      " current_database()");
  if (!r.ok() || r.rows() != 1) return fail(PgConnection::error(r, "server version"));
  probe.server_version = r.bytes(0, 0);
  probe.database = r.bytes(0, 1);
  auto version = read_pg_schema_version(db);
  if (!version) return fail(std::move(version).error());
  probe.schema_version = version.value();
  probe.supported_version = kPgSchemaVersion;
  if (probe.schema_version == 0) {
    probe.schema = PostgresqlProbe::Schema::will_be_created;
  } else if (probe.schema_version < kPgSchemaVersion) {
    probe.schema = PostgresqlProbe::Schema::will_be_upgraded;
  } else if (probe.schema_version == kPgSchemaVersion) {
    probe.schema = PostgresqlProbe::Schema::current;
  } else {
    probe.schema = PostgresqlProbe::Schema::newer;
  }
  return probe;
}

Result<PostgresqlProbe, StoreError> probe_postgresql(const PostgresqlOptions& options) {
  auto db = connect_read_only(options, "ocirelayd --check-config");
  if (!db) return fail(std::move(db).error());
  return read_probe(db.value());
}

std::string describe_probe(const PostgresqlProbe& probe) {
  std::string out = "PostgreSQL " + probe.server_version + ", database " + probe.database + "; ";
  const std::string version = std::to_string(probe.schema_version);
  const std::string supported = std::to_string(probe.supported_version);
  switch (probe.schema) {
    case PostgresqlProbe::Schema::current:
      return out + "schema version " + version + ": current";
    case PostgresqlProbe::Schema::will_be_created:
      return out + "no ocirelay schema yet: the first relay to start creates it (version " +
             supported + ")";
    case PostgresqlProbe::Schema::will_be_upgraded:
      return out + "schema version " + version + ": the first relay of this version to start " +
             "upgrades it to " + supported;
    case PostgresqlProbe::Schema::newer:
      return out + "schema version " + version + " is newer than this ocirelayd supports (" +
             supported + "): it would refuse to start; upgrade it to the version the other " +
             "relays run";
  }
  return out;
}

}  // namespace ocirelay::storage
