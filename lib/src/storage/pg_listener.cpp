#include "ocirelay/storage/pg_listener.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>
#include <utility>

#include <spdlog/logger.h>

#include "storage/pg_connection.hpp"

namespace ocirelay::storage {

namespace {

constexpr auto kFirstBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxBackoff = std::chrono::milliseconds(5000);

// "a\nb" -> {"a", "b"}; "" -> {} (every destination).
std::vector<std::string> split_lines(const std::string& payload) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < payload.size()) {
    std::size_t end = payload.find('\n', start);
    if (end == std::string::npos) end = payload.size();
    if (end > start) out.push_back(payload.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

class PgListener::Impl {
 public:
  Impl(PostgresqlOptions options, Callback callback, std::shared_ptr<spdlog::logger> log)
      : options_(std::move(options)), callback_(std::move(callback)), log_(std::move(log)) {}

  ~Impl() {
    stop();
    if (thread_.joinable()) thread_.join();
    for (int fd : wake_) {
      if (fd >= 0) ::close(fd);
    }
  }

  bool open_pipe() { return ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) == 0; }

  void start() {
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    if (wake_[1] >= 0) {
      const char byte = 1;
      [[maybe_unused]] const auto written = ::write(wake_[1], &byte, 1);
    }
  }

 private:
  // Waits for input on `fd` (or only for the stop pipe with fd < 0) up to
  // `timeout`; false once stopping.
  bool wait(int fd, std::chrono::milliseconds timeout) {
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    const int count = fd >= 0 ? 2 : 1;
    for (;;) {
      const int n = ::poll(fds, count, static_cast<int>(timeout.count()));
      if (n >= 0 || errno != EINTR) break;
    }
    return !stopping_;
  }

  // Connects and LISTENs; an error message, or empty on success.
  std::string listen() {
    PgConnectOptions connect;
    connect.url = options_.url;
    connect.ca_file = options_.ca_file;
    connect.connect_timeout = options_.connect_timeout;
    connect.application_name = "ocirelay " + options_.node_id + " listener";
    auto connection = PgConnection::connect(connect);
    if (!connection) return connection.error().message;
    db_ = std::move(connection).value();
    const std::string sql = std::string("LISTEN ") + kPgNewEventsChannel;
    PgResult r = db_.exec(sql.c_str());
    if (!r.ok()) {
      const std::string error = PgConnection::error(r, "LISTEN").message;
      db_ = PgConnection{};  // connected but not listening: start over
      return error;
    }
    return {};
  }

  void run() {
    std::chrono::milliseconds backoff{0};
    bool failing = false;
    while (!stopping_) {
      if (db_.broken()) {
        const std::string error = listen();
        if (stopping_) break;
        if (!error.empty()) {
          if (!failing && log_) {
            log_->warn(
                "storage: cannot listen for other relays' new events: {}; retrying "
                "(deliveries fall back to polling every few seconds)",
                error);
          }
          failing = true;
          backoff = std::clamp(backoff * 2, kFirstBackoff, kMaxBackoff);
          wait(-1, backoff);
          continue;
        }
        if (failing && log_) log_->info("storage: listening for other relays' new events again");
        if (!failing && log_) log_->debug("storage: listening for other relays' new events");
        failing = false;
        backoff = std::chrono::milliseconds(0);
        callback_({});  // whatever was missed meanwhile
      }
      if (!wait(db_.socket(), std::chrono::milliseconds(-1))) break;
      if (!db_.consume_input()) {
        if (log_) log_->warn("storage: lost the connection listening for new events; reconnecting");
        failing = true;
        db_ = PgConnection{};
        continue;
      }
      for (const std::string& payload : db_.take_notifications()) {
        callback_(split_lines(payload));
      }
    }
  }

  PostgresqlOptions options_;
  Callback callback_;
  std::shared_ptr<spdlog::logger> log_;
  PgConnection db_;
  int wake_[2] = {-1, -1};  // the stop pipe: read end, write end
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

std::unique_ptr<PgListener> PgListener::start(PostgresqlOptions options, Callback on_new_events,
                                              std::shared_ptr<spdlog::logger> log) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(on_new_events), std::move(log));
  if (!impl->open_pipe()) return nullptr;
  impl->start();
  return std::unique_ptr<PgListener>(new PgListener(std::move(impl)));
}

PgListener::PgListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgListener::~PgListener() = default;
void PgListener::stop() { impl_->stop(); }

}  // namespace ocirelay::storage
