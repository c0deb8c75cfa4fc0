// ConfigReload: SIGHUP's work on the running daemon, in two phases.
//
// prepare() does everything that can fail and changes nothing the daemon
// uses: settings bound at start keep their running values (each change is
// logged as needing a restart); dispatchers for new and changed destinations
// are made, not started; the server and management certificates and keys are
// loaded. Its last step, the ONS settings, applies at once when it succeeds,
// so a refused reload has changed nothing.
//
// apply() cannot fail: it installs the configuration, routes, ingress auth,
// limits, certificates (for new connections) and log level; stops the
// dispatchers of removed and changed destinations, drains them within
// server.shutdown_timeout, returns the rows they held to the queue, and starts
// the new ones (unless a shutdown has begun meanwhile). Queued events of a
// removed destination stay in storage, and the log says how many.
//
// Thread and lifetime contract: used on the daemon's io_context thread only,
// one reload at a time (the caller ignores SIGHUP while one runs). Everything
// ReloadTargets refers to outlives the ConfigReload and its coroutines.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/http/tls_context.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay {
namespace admin {
class AdminHandler;
}
namespace delivery {
class Dispatcher;
}
namespace filter {
class Router;
}
namespace http {
class Server;
}
namespace ingress {
class IngressHandler;
class OnsConfirmer;
}  // namespace ingress
namespace log {
class Logging;
}
namespace metrics {
class RelayMetrics;
}
namespace storage {
class StorageWorker;
}
}  // namespace ocirelay

namespace ocirelay::app {

// The parts of the running daemon a reload reads or changes.
struct ReloadTargets {
  config::Config& config;
  boost::asio::any_io_executor executor;
  log::Logging& logging;
  spdlog::logger& log;
  storage::StorageWorker& storage;
  // PostgreSQL with pool_size >= 2: the delivery path's own connections;
  // destination i of the configuration uses [i % size]. Empty: `storage`.
  const std::vector<std::unique_ptr<storage::StorageWorker>>& delivery_storage;
  metrics::RelayMetrics& metrics;
  filter::Router& router;
  ingress::OnsConfirmer& confirmer;
  ingress::IngressHandler& handler;
  http::Server& server;
  http::Server* management_server;     // null with management.listen: ""
  admin::AdminHandler* admin_handler;  // null without admin:
  std::vector<std::unique_ptr<delivery::Dispatcher>>& dispatchers;
  // Dispatchers taken out of service: stopped, kept until exit.
  std::list<std::unique_ptr<delivery::Dispatcher>>& retired;
  const bool& shutting_down;
};

// What prepare() made, for apply().
struct ReloadPlan {
  config::Config next;
  std::vector<std::unique_ptr<delivery::Dispatcher>> fresh;  // new or changed, not started
  std::vector<std::string> removed;                          // destination names
  http::TlsContextPtr server_tls;                            // null: plain HTTP
  http::TlsContextPtr management_tls;                        // null: none or plain HTTP

  ReloadPlan();
  ReloadPlan(ReloadPlan&&) noexcept;
  ReloadPlan& operator=(ReloadPlan&&) noexcept;
  ~ReloadPlan();
};

class ConfigReload {
 public:
  explicit ConfigReload(ReloadTargets targets) : t_(targets) {}

  // The error says what refused the reload ("server.tls: ..."); nothing has
  // changed then.
  Result<ReloadPlan> prepare(config::Config next);

  boost::asio::awaitable<void> apply(ReloadPlan plan);

 private:
  void keep_start_time_settings(config::Config& next);

  ReloadTargets t_;
};

}  // namespace ocirelay::app
