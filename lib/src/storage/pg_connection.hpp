// PgConnection: one libpq connection with what PgStore needs of it: commands
// with parameters (PgParams) whose results come in binary format (PgResult).
// Private to the storage library.
//
// Secrets: the URL holds the password. It is checked with PQconninfoParse
// before connecting, and no message here ever quotes it or any part of it
// (libpq's own parse errors can, so they are not passed on).
//
// Thread and lifetime contract: one thread at a time; the connection is
// closed by the destructor. Movable, not copyable.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/storage/store.hpp"
#include "storage/pg_params.hpp"
#include "storage/pg_result.hpp"
#include "storage/pq_library.hpp"

namespace ocirelay::storage {

struct PgConnectOptions {
  std::string url;  // secret
  std::string ca_file;
  std::chrono::milliseconds connect_timeout{5000};
  std::string application_name = "ocirelay";
};

class PgConnection {
 public:
  // Loads libpq and connects. The error never contains the URL.
  static StoreResult<PgConnection> connect(const PgConnectOptions& options);

  PgConnection() = default;
  ~PgConnection();
  PgConnection(PgConnection&& other) noexcept;
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool broken() const;
  int server_version() const;

  // One statement; results in binary format.
  PgResult exec(const char* sql);
  PgResult exec(const char* sql, const PgParams& params);
  // A statement run again and again (PgStore: the accept statement):
  // prepared on this connection at its first use, under a name of its own,
  // so that the server parses and plans it once. `sql` must be a string
  // constant (static storage): statements are told apart by its address. A
  // statement the server no longer knows (a pooler in front that lost the
  // session's state) is prepared again under its name, once, when no
  // transaction is open.
  PgResult exec_prepared(const char* sql, const PgParams& params);
  // Several statements without parameters (schema scripts).
  PgResult exec_script(const char* sql);

  // LISTEN: the connection's socket (-1 when none), to wait on for input;
  // reading what arrived (false when the connection is lost); and the
  // payloads of the notifications it held, oldest first.
  int socket() const;
  bool consume_input();
  std::vector<std::string> take_notifications();

  // "postgresql: <context>: <server message>", with the SQLSTATE.
  static StoreError error(const PgResult& result, std::string_view context);

 private:
  // Runs the statement prepared as `name`.
  PgResult run_prepared(const std::string& name, const PgParams& params);

  const PqLibrary* pq_ = nullptr;
  PGconn* conn_ = nullptr;
  std::vector<const char*> prepared_;  // the statement "ocirelay_<i>" is prepared_[i]
};

}  // namespace ocirelay::storage
