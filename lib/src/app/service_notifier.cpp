#include "ocirelay/app/service_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ocirelay::app {

namespace asio = boost::asio;

namespace {

// systemd's notify protocol (sd_notify(3)), spoken directly so that the
// binary needs no libsystemd: one datagram per message to the AF_UNIX socket
// named by NOTIFY_SOCKET, a path or, with a leading '@', an abstract name.
// Other forms (vsock) are not used for services and are ignored.
std::optional<sockaddr_un> notify_address(const char* socket, socklen_t& length) {
  if (socket == nullptr) return std::nullopt;
  const std::size_t n = std::strlen(socket);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (n < 2 || n >= sizeof(addr.sun_path) || (socket[0] != '/' && socket[0] != '@')) {
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, socket, n);
  if (socket[0] == '@') addr.sun_path[0] = '\0';
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n + (socket[0] == '/' ? 1 : 0));
  return addr;
}

// WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or
// ours), as sd_watchdog_enabled(3) reads it.
std::optional<std::uint64_t> watchdog_usec() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (usec == nullptr) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid != nullptr) {
    long value = 0;
    auto [end, ec] = std::from_chars(pid, pid + std::strlen(pid), value);
    if (ec != std::errc() || *end != '\0' || value != static_cast<long>(::getpid())) {
      return std::nullopt;
    }
  }
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(usec, usec + std::strlen(usec), value);
  if (ec != std::errc() || *end != '\0' || value == 0) return std::nullopt;
  return value;
}

}  // namespace

ServiceNotifier::ServiceNotifier(asio::any_io_executor executor) : timer_(std::move(executor)) {
  socklen_t length = 0;
  if (auto addr = notify_address(std::getenv("NOTIFY_SOCKET"), length)) {
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      // A blocking send, as libsystemd's, but never for long: READY=1 must
      // not be lost to a momentarily full queue, nor hang the event loop.
      const timeval limit{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
      fd_ = fd;
      address_ = *addr;
      address_length_ = length;
      enabled_ = true;
    }
  }
  if (enabled_) {
    if (auto usec = watchdog_usec()) {
      watchdog_ = std::chrono::duration_cast<Duration>(std::chrono::microseconds(*usec));
    }
  }
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

void ServiceNotifier::notify(const std::string& message) {
  if (!enabled_) return;
  // A datagram socket: one sendto is the whole message or nothing. A queue
  // still full after the send timeout, or a systemd gone away, loses the
  // notification, as with sd_notify.
  ssize_t sent = 0;
  do {
    sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                    reinterpret_cast<const sockaddr*>(&address_), address_length_);
  } while (sent < 0 && errno == EINTR);
}

void ServiceNotifier::ready(const std::string& status) {
  notify("READY=1\nSTATUS=" + status);
}

void ServiceNotifier::stopping(const std::string& status) {
  notify("STOPPING=1\nSTATUS=" + status);
}

void ServiceNotifier::reloading(const std::string& status) {
  notify("RELOADING=1\nSTATUS=" + status);
}

void ServiceNotifier::status(const std::string& status) { notify("STATUS=" + status); }

asio::awaitable<void> ServiceNotifier::run_watchdog() {
  if (!watchdog_) co_return;
  const Duration every = std::max<Duration>(*watchdog_ / 2, Duration(1));
  while (!stopped_) {
    notify("WATCHDOG=1");
    timer_.expires_after(every);
    auto [ec] = co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) break;
  }
}

void ServiceNotifier::stop() {
  stopped_ = true;
  timer_.cancel();
}

}  // namespace ocirelay::app
