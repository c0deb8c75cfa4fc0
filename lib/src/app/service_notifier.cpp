#include "ocirelay/app/service_notifier.hpp"

#include <cstdlib>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <systemd/sd-daemon.h>

namespace ocirelay::app {

namespace asio = boost::asio;

ServiceNotifier::ServiceNotifier(asio::any_io_executor executor) : timer_(std::move(executor)) {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  std::uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::duration_cast<Duration>(std::chrono::microseconds(usec));
  }
}

void ServiceNotifier::notify(const std::string& message) {
  if (enabled_) sd_notify(0, message.c_str());
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
