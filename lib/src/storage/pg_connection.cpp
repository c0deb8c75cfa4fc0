#include "storage/pg_connection.hpp"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace ocirelay::storage {

namespace {

StoreError connect_error(std::string cause) {
  return StoreError{"postgresql: storage.postgresql.url: " + std::move(cause), false};
}

// libpq's message, one line (it ends messages with '\n' and may hold
// several lines: the first says what failed).
std::string first_line(const char* message) {
  std::string text = message != nullptr ? message : "";
  const auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  return text.empty() ? "unknown error" : text;
}

// Notices (e.g. "relation already exists, skipping") are not errors.
void ignore_notice(void*, const char*) {}

}  // namespace

StoreResult<PgConnection> PgConnection::connect(const PgConnectOptions& options) {
  auto library = PqLibrary::load();
  if (!library) {
    return fail(StoreError{"postgresql: " + library.error(), false});
  }
  const PqLibrary* pq = library.value();

  // Checked first: libpq's parse errors quote pieces of the string, which
  // may be the password.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = pq->conninfo_parse(options.url.c_str(), &parse_error);
  if (parse_error != nullptr) pq->freemem(parse_error);
  if (parsed == nullptr) {
    return fail(connect_error("not a valid libpq URI or conninfo string (the value is not shown)"));
  }
  pq->conninfo_free(parsed);

  const auto seconds = (options.connect_timeout.count() + 999) / 1000;
  const std::string timeout = std::to_string(seconds < 1 ? 1 : seconds);
  std::vector<const char*> keys{"dbname", "connect_timeout", "application_name"};
  std::vector<const char*> values{options.url.c_str(), timeout.c_str(),
                                  options.application_name.c_str()};
  if (!options.ca_file.empty()) {
    keys.push_back("sslrootcert");
    values.push_back(options.ca_file.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);

  PgConnection connection;
  connection.pq_ = pq;
  // expand_dbname: "dbname" holds the whole URL; the keys after it override.
  connection.conn_ = pq->connectdb_params(keys.data(), values.data(), 1);
  if (connection.conn_ == nullptr) {
    return fail(connect_error("cannot connect: out of memory"));
  }
  if (pq->status(connection.conn_) != CONNECTION_OK) {
    return fail(
        connect_error("cannot connect: " + first_line(pq->error_message(connection.conn_))));
  }
  pq->set_notice_processor(connection.conn_, ignore_notice, nullptr);
  return connection;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) pq_->finish(conn_);
}

PgConnection::PgConnection(PgConnection&& other) noexcept
    : pq_(other.pq_),
      conn_(std::exchange(other.conn_, nullptr)),
      prepared_(std::exchange(other.prepared_, {})) {}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_ != nullptr) pq_->finish(conn_);
    pq_ = other.pq_;
    conn_ = std::exchange(other.conn_, nullptr);
    prepared_ = std::exchange(other.prepared_, {});
  }
  return *this;
}

bool PgConnection::broken() const {
  return conn_ == nullptr || pq_->status(conn_) != CONNECTION_OK;
}

int PgConnection::server_version() const {
  return conn_ != nullptr ? pq_->server_version(conn_) : 0;
}

PgResult PgConnection::exec(const char* sql) { return exec(sql, PgParams{}); }

PgResult PgConnection::exec(const char* sql, const PgParams& params) {
  if (conn_ == nullptr) return PgResult{};
  // Binary results: bytea byte for byte, integers without parsing text.
  return PgResult(pq_, pq_->exec_params(conn_, sql, params.size(), nullptr, params.values(),
                                        params.lengths(), params.formats(), 1));
}

PgResult PgConnection::exec_prepared(const char* sql, const PgParams& params) {
  if (conn_ == nullptr) return PgResult{};
  const auto index = static_cast<std::size_t>(std::find(prepared_.begin(), prepared_.end(), sql) -
                                              prepared_.begin());
  const std::string name = "ocirelay_" + std::to_string(index);
  const auto prepare = [&] {
    // Parameter types come from the casts in the statement.
    return PgResult(pq_, pq_->prepare(conn_, name.c_str(), sql, params.size(), nullptr));
  };
  if (index == prepared_.size()) {
    PgResult made = prepare();
    if (!made.ok()) return made;
    prepared_.push_back(sql);
    return run_prepared(name, params);
  }
  PgResult result = run_prepared(name, params);
  // 26000, invalid_sql_statement_name: the server lost this statement (a
  // pooler in front that lost the session's state). Prepared again under the
  // same name, outside a transaction only (inside one, the error aborted it).
  if (result.sqlstate() == "26000" && pq_->transaction_status(conn_) == PQTRANS_IDLE) {
    PgResult made = prepare();
    if (!made.ok()) return made;
    return run_prepared(name, params);
  }
  return result;
}

PgResult PgConnection::run_prepared(const std::string& name, const PgParams& params) {
  return PgResult(pq_, pq_->exec_prepared(conn_, name.c_str(), params.size(), params.values(),
                                          params.lengths(), params.formats(), 1));
}

PgResult PgConnection::exec_script(const char* sql) {
  if (conn_ == nullptr) return PgResult{};
  return PgResult(pq_, pq_->exec(conn_, sql));
}

int PgConnection::socket() const { return conn_ != nullptr ? pq_->socket(conn_) : -1; }

bool PgConnection::consume_input() {
  return conn_ != nullptr && pq_->consume_input(conn_) == 1 && !broken();
}

std::vector<std::string> PgConnection::take_notifications() {
  std::vector<std::string> payloads;
  if (conn_ == nullptr) return payloads;
  while (PGnotify* n = pq_->notifies(conn_)) {
    payloads.emplace_back(n->extra != nullptr ? n->extra : "");
    pq_->freemem(n);
  }
  return payloads;
}

StoreError PgConnection::error(const PgResult& result, std::string_view context) {
  std::string message = "postgresql: ";
  message += context;
  message += ": ";
  message += result.message();
  const std::string state = result.sqlstate();
  if (!state.empty()) message += " (SQLSTATE " + state + ")";
  return StoreError{std::move(message), state == "53100"};  // disk_full
}

}  // namespace ocirelay::storage
