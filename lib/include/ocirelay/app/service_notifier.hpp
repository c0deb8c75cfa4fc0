// Tells systemd how the service is doing (Type=notify): READY=1 once the
// listener is bound and storage is open, WATCHDOG=1 keep-alives from the
// event loop (so a hung loop gets the service restarted), STOPPING=1 when a
// shutdown begins. Without NOTIFY_SOCKET (not run by systemd) every call
// does nothing, so the daemon runs the same either way. The protocol is
// spoken directly (a datagram per message to NOTIFY_SOCKET), without
// libsystemd, so the binary runs on any distribution.
//
// Thread and lifetime contract: used on the main thread's io_context; the
// watchdog coroutine must finish (stop()) before the notifier is destroyed.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "ocirelay/common/duration.hpp"

namespace ocirelay::app {

class ServiceNotifier {
 public:
  explicit ServiceNotifier(boost::asio::any_io_executor executor);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  bool enabled() const noexcept { return enabled_; }
  // The watchdog interval systemd asked for (WatchdogSec), if any.
  std::optional<Duration> watchdog_interval() const noexcept { return watchdog_; }

  void ready(const std::string& status);
  void stopping(const std::string& status);
  // RELOADING=1 at the start of a configuration reload; ready() ends it.
  void reloading(const std::string& status);
  void status(const std::string& status);

  // Sends WATCHDOG=1 every half interval until stop().
  boost::asio::awaitable<void> run_watchdog();
  void stop();

 private:
  void notify(const std::string& message);

  bool enabled_ = false;
  int fd_ = -1;
  sockaddr_un address_{};
  socklen_t address_length_ = 0;
  std::optional<Duration> watchdog_;
  boost::asio::steady_timer timer_;
  bool stopped_ = false;
};

}  // namespace ocirelay::app
