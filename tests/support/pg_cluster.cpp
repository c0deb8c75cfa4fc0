#include "support/pg_cluster.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ocirelay::test {

namespace {

namespace fs = std::filesystem;

std::string bin(const char* name) { return std::string(PgCluster::kBinDir) + "/" + name; }

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// The `postgres` user when running as root (PostgreSQL refuses root), else
// nullopt: run as ourselves.
const passwd* server_user() {
  if (::geteuid() != 0) return nullptr;
  const passwd* user = ::getpwnam("postgres");
  if (user == nullptr) {
    throw std::runtime_error("running as root, but there is no `postgres` user to run the server");
  }
  return user;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs argv (as the server's user when `as_server`), in `cwd`, with stdout
// and stderr in one file of `scratch`, and waits for it.
CommandResult run(std::vector<std::string> argv, bool as_server, const fs::path& cwd,
                  const fs::path& scratch) {
  if (as_server && server_user() != nullptr) {
    argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  }
  static std::atomic<int> counter{0};
  const fs::path out_file = scratch / ("command-" + std::to_string(::getpid()) + "-" +
                                       std::to_string(counter++) + ".out");
  const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) throw std::runtime_error("cannot create " + out_file.string());
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out);
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    const int in = ::open("/dev/null", O_RDONLY);
    if (in < 0 || ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(out);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.output = read_all(out_file);
  fs::remove(out_file);
  return result;
}

// A port of 127.0.0.1 that nothing listens on right now.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

std::string check_name(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("empty database name");
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) throw std::invalid_argument("database name '" + name + "': use a-z, 0-9 and _ only");
  }
  return name;
}

}  // namespace

bool PgCluster::available() {
  for (const char* name : {"initdb", "pg_ctl", "psql", "postgres"}) {
    if (::access(bin(name).c_str(), X_OK) != 0) return false;
  }
  return true;
}

PgCluster* PgCluster::shared() {
  static std::once_flag once;
  static std::unique_ptr<PgCluster> cluster;
  std::call_once(once, [] {
    if (available()) cluster = std::make_unique<PgCluster>();
  });
  if (!cluster) {
    WARN("PostgreSQL 15 is not installed (" << kBinDir
                                            << "): the PostgreSQL tests are skipped; "
                                               "scripts/install-deps.sh installs it");
  }
  return cluster.get();
}

PgCluster::PgCluster() {
  std::string pattern = (fs::temp_directory_path() / "ocirelay-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed for " + pattern);
  }
  root_ = pattern;
  data_dir_ = root_ / "data";
  socket_dir_ = root_ / "socket";
  log_file_ = root_ / "server.log";
  try {
    fs::create_directory(socket_dir_);
    if (const passwd* user = server_user()) {
      for (const fs::path& p : {root_, socket_dir_}) {
        if (::chown(p.c_str(), user->pw_uid, user->pw_gid) != 0) {
          throw std::runtime_error("cannot give " + p.string() + " to the postgres user");
        }
      }
    }
    start();
  } catch (...) {
    stop();
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    throw;
  }
}

PgCluster::~PgCluster() {
  stop();
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

void PgCluster::start() {
  // --no-sync only skips initdb's own final fsync of the new files; the
  // server then runs with its defaults (fsync = on, synchronous_commit = on).
  auto init = run({bin("initdb"), "-D", data_dir_.string(), "-U", "postgres", "--auth=trust",
                   "--encoding=UTF8", "--no-locale", "--no-sync"},
                  true, root_, root_);
  if (init.exit_code != 0) {
    throw std::runtime_error("initdb failed:\n" + init.output);
  }
  std::string last_error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    auto started = run({bin("pg_ctl"), "-D", data_dir_.string(), "-l", log_file_.string(), "-w",
                        "-t", "60", "-o", server_options(), "start"},
                       true, root_, root_);
    if (started.exit_code == 0) {
      running_ = true;
      return;
    }
    // Most likely the port was taken between free_port() and the start.
    last_error = started.output + "\n" + read_all(log_file_);
  }
  throw std::runtime_error("pg_ctl start failed:\n" + last_error);
}

std::string PgCluster::server_options() const {
  return "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " +
         socket_dir_.string() + " -c max_connections=200";
}

void PgCluster::stop_server() {
  auto stopped = run({bin("pg_ctl"), "-D", data_dir_.string(), "-m", "fast", "-w", "stop"}, true,
                     root_, root_);
  if (stopped.exit_code != 0) {
    throw std::runtime_error("pg_ctl stop failed:\n" + stopped.output + "\n" + read_all(log_file_));
  }
  running_ = false;
}

void PgCluster::start_server() {
  auto started = run({bin("pg_ctl"), "-D", data_dir_.string(), "-l", log_file_.string(), "-w", "-t",
                      "60", "-o", server_options(), "start"},
                     true, root_, root_);
  if (started.exit_code != 0) {
    throw std::runtime_error("pg_ctl start failed:\n" + started.output + "\n" +
                             read_all(log_file_));
  }
  running_ = true;
}

void PgCluster::restart() {
  auto restarted = run({bin("pg_ctl"), "-D", data_dir_.string(), "-l", log_file_.string(), "-m",
                        "fast", "-w", "-t", "60", "-o", server_options(), "restart"},
                       true, root_, root_);
  if (restarted.exit_code != 0) {
    throw std::runtime_error("pg_ctl restart failed:\n" + restarted.output + "\n" +
                             read_all(log_file_));
  }
  running_ = true;
}

void PgCluster::stop() noexcept {
  if (!running_) return;
  running_ = false;
  try {
    run({bin("pg_ctl"), "-D", data_dir_.string(), "-m", "fast", "-w", "stop"}, true, root_, root_);
  } catch (...) {
  }
}

std::string PgCluster::create_database(const std::string& prefix) {
  const std::string name = check_name(prefix) + "_" + std::to_string(next_database_++);
  psql("postgres", "CREATE DATABASE " + name);
  return url(name);
}

std::string PgCluster::url(const std::string& database) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + check_name(database);
}

std::string PgCluster::psql(const std::string& database, const std::string& sql) const {
  auto result =
      run({bin("psql"), "-h", socket_dir_.string(), "-p", std::to_string(port_), "-U", "postgres",
           "-d", check_name(database), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql},
          false, root_, root_);
  if (result.exit_code != 0) {
    throw std::runtime_error("psql on " + database + " failed: " + result.output);
  }
  return result.output;
}

}  // namespace ocirelay::test
