// PgCluster: a throwaway PostgreSQL 15 server for the tests: initdb into a
// fresh temporary directory, started with pg_ctl on a free port of 127.0.0.1
// and on a Unix socket inside that directory, with the server's default
// durability settings (fsync and synchronous_commit on). Run as root (CI),
// the directory belongs to the unprivileged `postgres` user and the server
// runs as that user (runuser), since PostgreSQL refuses to run as root.
// Authentication is `trust` for the superuser `postgres`: nothing but the
// tests can reach 127.0.0.1 and the private socket directory.
//
// Thread and lifetime contract: the constructor starts the server (throwing
// std::runtime_error with the server's log on failure) and the destructor
// stops it (pg_ctl stop -m fast) and removes the directory. shared() is the
// one cluster of a test binary, started on first use and stopped at exit;
// each test takes its own database with create_database(). Methods may be
// called from any thread, one at a time.
#pragma once

#include <filesystem>
#include <string>

namespace ocirelay::test {

class PgCluster {
 public:
  // Where the PostgreSQL 15 binaries are (Debian's postgresql-15).
  static constexpr const char* kBinDir = "/usr/lib/postgresql/15/bin";

  // Whether initdb, pg_ctl and psql are installed.
  static bool available();
  // The test binary's cluster, started on first use; nullptr (with a Catch2
  // WARN naming what is missing) when the binaries are not installed.
  static PgCluster* shared();

  PgCluster();
  ~PgCluster();
  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;

  // Creates a new, empty database and returns its libpq URL (TCP on
  // 127.0.0.1). `prefix` (letters, digits, '_') is made unique with a counter.
  std::string create_database(const std::string& prefix);
  // The URL of an existing database.
  std::string url(const std::string& database) const;
  // Runs SQL with psql on `database` through the Unix socket and returns
  // what it printed (unaligned, tuples only: one row a line, columns
  // separated by '|'); throws with psql's message when it fails.
  std::string psql(const std::string& database, const std::string& sql) const;

  // The server alone, on the same data directory and port (an outage as
  // the relays see it): stop_server() stops it (pg_ctl stop -m fast, which
  // disconnects every client), start_server() starts it again, restart() is
  // `pg_ctl restart -m fast`. Each throws with the server's log on failure.
  void stop_server();
  void start_server();
  void restart();

  int port() const noexcept { return port_; }
  const std::filesystem::path& socket_dir() const noexcept { return socket_dir_; }
  const std::filesystem::path& data_dir() const noexcept { return data_dir_; }

 private:
  void start();
  void stop() noexcept;
  std::string server_options() const;

  std::filesystem::path root_;  // the temporary directory: data, socket, log
  std::filesystem::path data_dir_;
  std::filesystem::path socket_dir_;
  std::filesystem::path log_file_;
  int port_ = 0;
  bool running_ = false;
  int next_database_ = 0;
};

}  // namespace ocirelay::test
