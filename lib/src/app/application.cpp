#include "ocirelay/app/application.hpp"
#include "ocirelay/app/server_limits.hpp"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ocirelay/admin/admin_handler.hpp"
#include "ocirelay/app/command_line.hpp"
#include "ocirelay/app/service_notifier.hpp"
#include "ocirelay/common/task_group.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/delivery/dispatcher.hpp"
#include "ocirelay/filter/route.hpp"
#include "ocirelay/http/server.hpp"
#include "ocirelay/http/system_trust.hpp"
#include "ocirelay/http/url.hpp"
#include "ocirelay/ingress/ingress_handler.hpp"
#include "ocirelay/ingress/management_handler.hpp"
#include "ocirelay/ingress/ons_confirmer.hpp"
#include "ocirelay/log/logging.hpp"
#include "ocirelay/metrics/registry.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_check.hpp"
#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "ocirelay_version.hpp"

namespace ocirelay::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr Duration kDedupePruneInterval = 10min;


// Raises the soft open-file limit to the hard one: every ingress connection
// holds a descriptor (the server fits max_connections to the limit).
void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += out.empty() ? s : ", " + s;
  return out;
}

}  // namespace

class Application::Impl {
 public:
  config::Config config;
  std::unique_ptr<log::Logging> logging;
  std::shared_ptr<spdlog::logger> log;
  asio::io_context io{1};
  metrics::Registry registry;
  std::unique_ptr<metrics::RelayMetrics> metrics;
  std::unique_ptr<storage::StorageWorker> storage;
  std::unique_ptr<filter::Router> router;
  std::unique_ptr<ingress::OnsConfirmer> confirmer;
  std::vector<std::unique_ptr<delivery::Dispatcher>> dispatchers;
  // Dispatchers a reload took out of service: stopped, kept until exit.
  std::list<std::unique_ptr<delivery::Dispatcher>> retired;
  bool reloading = false;
  std::unique_ptr<ingress::IngressHandler> handler;
  std::unique_ptr<http::Server> server;
  std::unique_ptr<admin::AdminHandler> admin_handler;  // both null without `admin:`
  std::unique_ptr<http::Server> admin_server;
  // Both null with `management.listen: ""` (then `server` serves it all).
  std::unique_ptr<ingress::ManagementHandler> management_handler;
  std::unique_ptr<http::Server> management_server;
  asio::steady_timer prune_timer{io};
  asio::steady_timer log_flush_timer{io};
  // Registered when the application is made, before "listening" and READY:
  // a signal that arrives before wait_for_signals() runs is kept for it
  // instead of killing the process with the default action.
  asio::signal_set signals{io, SIGTERM, SIGINT, SIGHUP};
  ServiceNotifier notifier{io.get_executor()};
  // The application's own coroutines (signals, reload, periodic work) and,
  // apart, the shutdown, which a second SIGTERM or SIGINT cancels. run()
  // returns once both groups, and everything the components started, ended.
  TaskGroup tasks{io.get_executor(), [this](std::exception_ptr e, const std::string& task) {
                    report_exception(e, task);
                  }};
  TaskGroup stopping{io.get_executor(), [this](std::exception_ptr e, const std::string& task) {
                       report_exception(e, task);
                     }};
  bool shutting_down = false;
  bool shutdown_forced = false;  // a second SIGTERM or SIGINT: no more waiting
  bool shutdown_done = false;
  bool shutdown_clean = true;    // every component joined and storage saved
  bool tasks_abandoned = false;  // the loop was stopped with tasks still suspended
  std::int64_t queued_at_start = 0;

  void report_exception(std::exception_ptr e, const std::string& task) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      log->critical("{} ended by an exception: {}", task, ex.what());
    } catch (...) {
      log->critical("{} ended by an exception", task);
    }
    if (task == "shutdown") {  // the components may not be joined: as in shutdown()
      shutdown_clean = false;
      end_own_tasks();
      tasks_abandoned = true;
      io.stop();
    }
  }

  // After the shutdown: the application's own coroutines end, so that
  // io.run() returns.
  void end_own_tasks() {
    notifier.stop();
    signals.cancel();
    prune_timer.cancel();
    shutdown_done = true;
    log_flush_timer.cancel();
  }

  // The delivery state of a destination, for /health and the admin API.
  std::string destination_state(const std::string& name) const {
    for (const auto& d : dispatchers) {
      if (d->name() == name) return std::string(d->state());
    }
    return "unknown";
  }

  void notify(const std::vector<std::string>& destinations) {
    for (const auto& d : dispatchers) {
      if (std::find(destinations.begin(), destinations.end(), d->name()) != destinations.end()) {
        d->notify();
      }
    }
  }

  asio::awaitable<void> prune_dedupe_periodically() {
    asio::steady_timer& timer = prune_timer;
    while (!shutting_down) {
      const storage::Millis cutoff =
          storage::now_millis() - config.storage.dedupe_window.count();
      auto pruned = co_await storage->async_prune_dedupe(cutoff, asio::use_awaitable);
      if (!pruned) {
        log->warn("cannot forget old event IDs: {}", pruned.error().message);
      } else if (pruned.value() > 0) {
        log->debug("forgot {} event ID(s) older than {}", pruned.value(),
                   format_duration(config.storage.dedupe_window));
      }
      if (shutting_down) break;
      timer.expires_after(kDedupePruneInterval);
      auto [ec] = co_await timer.async_wait(nothrow);
      if (ec) break;
    }
  }

  // Writes out the buffered log lines every log.flush_interval until the
  // shutdown is done (which also cancels the timer, so the loop ends at once;
  // run() flushes once more at exit).
  asio::awaitable<void> flush_log_periodically() {
    while (!shutdown_done) {
      log_flush_timer.expires_after(logging->flush_interval());
      co_await log_flush_timer.async_wait(nothrow);
      logging->flush();
    }
  }

  // Signals until the shutdown is done: SIGUSR1 reopens the log, SIGHUP
  // reloads, the first SIGTERM or SIGINT starts the shutdown and a second one
  // forces it (nothing more is waited for).
  asio::awaitable<void> wait_for_signals() {
    for (;;) {
      auto [ec, sig] = co_await signals.async_wait(nothrow);
      if (ec) co_return;  // cancelled once the shutdown is done
      if (sig == SIGUSR1) {
        logging->reopen();
        log->info("SIGUSR1 received: log file reopened");
        logging->flush();
        continue;
      }
      const char* name = sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "SIGHUP";
      if (sig == SIGHUP) {
        if (shutting_down) {
          log->warn("SIGHUP received while shutting down; ignored");
        } else if (reloading) {
          log->warn("SIGHUP received while a reload is still under way; ignored");
        } else {
          reloading = true;
          tasks.spawn(reload(), "configuration reload");
        }
        continue;
      }
      if (!shutting_down) {
        log->info("{} received: shutting down (deadline {})", name,
                  format_duration(config.server.shutdown_timeout));
        logging->flush();
        shutting_down = true;
        stopping.spawn(shutdown(), "shutdown");
      } else if (!shutdown_forced) {
        log->warn("{} received again: forcing the shutdown; deliveries in flight are aborted "
                  "and stay queued",
                  name);
        logging->flush();
        shutdown_forced = true;
        stopping.cancel(asio::cancellation_type::terminal);
      }
    }
  }

  // SIGHUP: reads the configuration file again and applies what can change
  // while running (routes, destinations, ingress auth, ONS settings, limits,
  // log level). An invalid file is refused with its errors and the running
  // configuration kept. The server and management certificates and keys are
  // read again for new connections. Settings bound at start (listen
  // addresses, plain HTTP or HTTPS, storage, admin socket, log file) keep
  // their running values, with a warning. A destination that is removed or
  // changed stops taking work; its deliveries in flight finish (within
  // shutdown_timeout), the rows it held go back to the queue, and a changed
  // one starts again with the new settings. Queued events of a removed
  // destination stay in storage.
  asio::awaitable<void> reload() {
    struct Done {  // however the reload ends
      Impl& a;
      ~Done() {
        a.reloading = false;
        a.logging->flush();  // an operator is waiting for its outcome
      }
    } done{*this};
    const std::string path = config.source_file;
    if (path.empty() || path.front() == '(') {
      log->warn("SIGHUP received: running on the embedded configuration; nothing to reload");
      co_return;
    }
    log->info("SIGHUP received: reloading {}", path);
    notifier.reloading("reloading " + path);
    struct Ready {  // READY=1 again however the reload ends, unless stopping by then
      Impl& a;
      ~Ready() {
        if (!a.shutting_down) a.notifier.ready("configuration reload done");
      }
    } ready{*this};
    auto loaded = config::load_config(path);
    if (!loaded) {
      for (const auto& e : loaded.error()) log->error("reload: {}", e.to_string());
      log->error("reload refused ({} error(s)); keeping the running configuration",
                 loaded.error().size());
      co_return;
    }
    config::Config next = std::move(loaded).value();
    keep_start_time_settings(next);

    // Everything that can fail is prepared before anything changes.
    std::vector<const config::Destination*> changed;  // in `next`: new or different
    std::vector<std::string> removed;
    for (const auto& d : next.destinations) {
      auto old = std::find_if(config.destinations.begin(), config.destinations.end(),
                              [&](const config::Destination& o) { return o.name == d.name; });
      if (old == config.destinations.end() || !(*old == d)) changed.push_back(&d);
    }
    for (const auto& o : config.destinations) {
      if (std::none_of(next.destinations.begin(), next.destinations.end(),
                       [&](const config::Destination& d) { return d.name == o.name; })) {
        removed.push_back(o.name);
      }
    }
    std::vector<std::unique_ptr<delivery::Dispatcher>> fresh;
    for (const auto* d : changed) {
      auto made = delivery::Dispatcher::create(io.get_executor(), *d, *storage, *metrics,
                                               logging->get("delivery"));
      if (!made) {
        log->error("reload refused: {}; keeping the running configuration", made.error());
        co_return;
      }
      fresh.push_back(std::move(made).value());
    }
    // The server certificate and key are read again: a renewed certificate
    // at the same paths, or new paths. Plain HTTP to HTTPS or back needs a
    // restart (keep_start_time_settings).
    http::TlsContextPtr server_tls;
    if (next.server.tls) {
      auto made =
          http::make_server_tls_context(next.server.tls->cert_file, next.server.tls->key_file);
      if (!made) {
        log->error("reload refused: server.tls: {}; keeping the running configuration",
                   made.error());
        co_return;
      }
      server_tls = std::move(made).value();
    }
    // Likewise the management listener's (adding or removing management.tls
    // needs a restart).
    http::TlsContextPtr management_tls;
    if (next.management.tls && management_server) {
      auto made = http::make_server_tls_context(next.management.tls->cert_file,
                                                next.management.tls->key_file);
      if (!made) {
        log->error("reload refused: management.tls: {}; keeping the running configuration",
                   made.error());
        co_return;
      }
      management_tls = std::move(made).value();
    }
    // Last of the steps that can fail: reconfigure() applies at once.
    if (auto ons = confirmer->reconfigure(next.server.ons); !ons) {
      log->error("reload refused: {}; keeping the running configuration", ons.error());
      co_return;
    }

    // Apply: from here on nothing fails.
    std::vector<filter::Route> routes;
    for (const auto& r : next.routes) routes.emplace_back(r);
    config = std::move(next);
    *router = filter::Router(std::move(routes));
    handler->reconfigure();
    server->set_limits(server_limits(config));
    if (server_tls) {
      server->set_tls_context(std::move(server_tls));
      log->info("reload: server certificate {} loaded for new connections",
                config.server.tls->cert_file);
    }
    if (management_tls) {
      management_server->set_tls_context(std::move(management_tls));
      log->info("reload: management certificate {} loaded for new connections",
                config.management.tls->cert_file);
    }
    std::vector<std::string> names;
    for (const auto& d : config.destinations) names.push_back(d.name);
    if (admin_handler) admin_handler->set_destinations(names);

    // Retire the dispatchers of removed and changed destinations.
    std::vector<delivery::Dispatcher*> retiring;
    for (auto it = dispatchers.begin(); it != dispatchers.end();) {
      const bool goes = std::find(removed.begin(), removed.end(), (*it)->name()) != removed.end() ||
                        std::any_of(fresh.begin(), fresh.end(),
                                    [&](const auto& f) { return f->name() == (*it)->name(); });
      if (goes) {
        (*it)->stop();
        retiring.push_back(it->get());
        retired.push_back(std::move(*it));
        it = dispatchers.erase(it);
      } else {
        ++it;
      }
    }
    std::vector<delivery::Dispatcher*> starting;
    for (auto& f : fresh) {
      starting.push_back(f.get());
      dispatchers.push_back(std::move(f));
    }
    log->info("configuration reloaded: {} route(s), {} destination(s) ({} new or changed, {} "
              "removed); log level {}",
              config.routes.size(), config.destinations.size(), starting.size(), removed.size(),
              config.log.level);
    if (auto level = logging->set_level(config.log.level); !level) {
      log->warn("reload: {}", level.error());
    }

    for (auto* old : retiring) {
      co_await old->drain(std::chrono::steady_clock::now() + config.server.shutdown_timeout);
      const std::string name = old->name();
      auto op = storage->async_call<std::int64_t>(
          asio::use_awaitable, [name](storage::Store& s) { return s.release_inflight(name); });
      auto released = co_await std::move(op);
      if (!released) {
        log->error("reload: cannot return {}'s deliveries to the queue: {}", name,
                   released.error().message);
      }
    }
    if (!shutting_down) {
      for (auto* d : starting) d->start();
    }
    if (!removed.empty()) {
      auto stats = co_await storage->async_stats(asio::use_awaitable);
      for (const auto& name : removed) {
        std::int64_t queued = 0;
        if (stats) {
          for (const auto& s : stats.value()) {
            if (s.destination == name) queued = s.pending + s.inflight + s.dead;
          }
        }
        log->warn("destination {} was removed from the configuration; {} of its deliveries stay "
                  "in storage (add it back to deliver them)",
                  name, queued);
      }
    }
  }

  // Settings bound at start keep their running values; says which changed.
  void keep_start_time_settings(config::Config& next) {
    auto keep = [&](auto& field, const auto& running, const char* key) {
      if (!(field == running)) {
        log->warn("reload: {} changed; it takes effect only after a restart", key);
        field = running;
      }
    };
    keep(next.server.listen, config.server.listen, "server.listen");
    if (next.server.tls.has_value() != config.server.tls.has_value()) {
      log->warn("reload: server.tls {}; it takes effect only after a restart",
                next.server.tls ? "added" : "removed");
      next.server.tls = config.server.tls;
    }
    keep(next.management.listen, config.management.listen, "management.listen");
    if (next.management.tls.has_value() != config.management.tls.has_value()) {
      log->warn("reload: management.tls {}; it takes effect only after a restart",
                next.management.tls ? "added" : "removed");
      next.management.tls = config.management.tls;
    }
    keep(next.server.shutdown_timeout, config.server.shutdown_timeout, "server.shutdown_timeout");
    keep(next.storage, config.storage, "storage");
    keep(next.admin, config.admin, "admin");
    keep(next.log.file, config.log.file, "log.file");
    keep(next.log.format, config.log.format, "log.format");
    keep(next.log.max_size, config.log.max_size, "log.max_size");
    keep(next.log.max_files, config.log.max_files, "log.max_files");
    keep(next.log.flush_interval, config.log.flush_interval, "log.flush_interval");
  }

  // Stops accepting, lets requests and deliveries in flight finish until
  // server.shutdown_timeout (or a second signal), then aborts what is left:
  // aborted deliveries stay queued. Joins every component, saves the queue
  // state, and ends the application's own coroutines, so that run() returns.
  asio::awaitable<void> shutdown() {
    notifier.stopping("shutting down");
    prune_timer.cancel();
    const auto deadline = std::chrono::steady_clock::now() + config.server.shutdown_timeout;
    // Forced: what has not finished is aborted at once.
    auto until = [&] { return shutdown_forced ? std::chrono::steady_clock::now() : deadline; };
    server->stop();
    if (admin_server) admin_server->stop();
    if (management_server) management_server->stop();
    for (auto& d : dispatchers) d->stop();
    bool joined = co_await server->drain(until());
    if (admin_server) joined = co_await admin_server->drain(until()) && joined;
    if (management_server) joined = co_await management_server->drain(until()) && joined;
    for (auto& d : dispatchers) joined = co_await d->drain(until()) && joined;
    for (auto& d : retired) joined = co_await d->drain(until()) && joined;
    if (!joined) shutdown_clean = false;
    auto released = co_await storage->async_release_inflight(asio::use_awaitable);
    if (!released) {
      log->error("cannot return the aborted deliveries to the queue: {} (they are at the next "
                 "start)",
                 released.error().message);
      shutdown_clean = false;
    }
    auto stats = co_await storage->async_stats(asio::use_awaitable);
    if (stats) {
      std::int64_t queued = 0;
      for (const auto& s : stats.value()) queued += s.pending + s.inflight;
      log->info("stopped; {} event deliveries queued{}", queued,
                released && released.value() > 0
                    ? " (" + std::to_string(released.value()) + " of them aborted in flight)"
                    : std::string());
    }
    end_own_tasks();
    if (!joined) {
      // A task did not end after its abort (a bug): io.run() would never
      // return. Stop the loop; the components stay allocated (see
      // ~Application), since the abandoned coroutines still refer to them.
      tasks_abandoned = true;
      io.stop();
    }
  }
};

Result<std::unique_ptr<Application>, StartError> Application::create(config::Config cfg) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(cfg);
  const config::Config& c = impl->config;
  raise_open_file_limit();
  impl->signals.add(SIGUSR1);

  const auto flush_interval =
      std::chrono::duration_cast<std::chrono::milliseconds>(c.log.flush_interval);
  auto logging = log::Logging::create(log::LogOptions{c.log.level, c.log.file,
                                                      c.log.format == config::Log::Format::json,
                                                      c.log.max_size, c.log.max_files,
                                                      flush_interval});
  if (!logging) return fail(logging.error());
  impl->logging = std::move(logging).value();
  impl->log = impl->logging->get("main");

  auto store = storage::open_sqlite_store(storage::SqliteOptions{c.storage.path, true});
  if (!store) return fail(StartError("storage: " + store.error().message, kExitStorage));
  if (auto released = store.value()->release_inflight(); !released) {
    return fail(StartError("storage: " + released.error().message, kExitStorage));
  } else if (released.value() > 0) {
    impl->log->info("{} delivery(ies) in flight when the relay last stopped are queued again",
                    released.value());
  }
  if (auto stats = store.value()->stats(); stats) {
    for (const auto& s : stats.value()) impl->queued_at_start += s.pending + s.inflight;
  }

  impl->metrics = std::make_unique<metrics::RelayMetrics>(impl->registry, kVersion);
  impl->storage = std::make_unique<storage::StorageWorker>(
      std::move(store).value(), impl->logging->get("storage"), impl->metrics.get(),
      storage::SpaceLimits{c.storage.reserve, c.storage.max_size});

  std::vector<filter::Route> routes;
  for (const auto& r : c.routes) routes.emplace_back(r);
  impl->router = std::make_unique<filter::Router>(std::move(routes));

  auto confirmer =
      ingress::OnsConfirmer::create(impl->io.get_executor(), c.server.ons, impl->logging->get("ons"));
  if (!confirmer) return fail(confirmer.error());
  impl->confirmer = std::move(confirmer).value();

  for (const auto& d : c.destinations) {
    auto dispatcher = delivery::Dispatcher::create(impl->io.get_executor(), d, *impl->storage,
                                                   *impl->metrics, impl->logging->get("delivery"));
    if (!dispatcher) return fail(dispatcher.error());
    impl->dispatchers.push_back(std::move(dispatcher).value());
  }

  Impl* raw = impl.get();
  impl->handler = std::make_unique<ingress::IngressHandler>(ingress::IngressContext{
      impl->config, *impl->router, *impl->storage, *impl->confirmer, *impl->metrics,
      [raw](const std::vector<std::string>& d) { raw->notify(d); },
      [raw] { return raw->shutting_down; },
      [raw](const std::string& name) { return raw->destination_state(name); },
      impl->logging->get("ingress")});

  http::ServerOptions so = server_limits(c);
  so.host = c.server.listen.host;
  so.port = c.server.listen.port;
  so.server_name = std::string("ocirelay/") + kVersion;
  if (c.server.tls) {
    auto tls = http::make_server_tls_context(c.server.tls->cert_file, c.server.tls->key_file);
    if (!tls) return fail("server.tls: " + tls.error());
    so.tls = std::move(tls).value();
  }
  auto server = http::Server::create(impl->io.get_executor(), std::move(so), *impl->handler,
                                     impl->logging->get("http"));
  if (!server) return fail(server.error());
  impl->server = std::move(server).value();

  if (c.admin) {
    std::vector<std::string> names;
    for (const auto& d : c.destinations) names.push_back(d.name);
    impl->admin_handler = std::make_unique<admin::AdminHandler>(admin::AdminContext{
        *impl->storage, std::move(names),
        [raw](const std::string& name) { return raw->destination_state(name); },
        [raw](const std::vector<std::string>& d) { raw->notify(d); }, impl->logging->get("admin")});
    http::ServerOptions ao;
    ao.unix_path = c.admin->socket;
    ao.max_body_bytes = 64 * 1024;
    ao.max_connections = 64;
    ao.server_name = std::string("ocirelay/") + kVersion;
    auto admin_server = http::Server::create(impl->io.get_executor(), std::move(ao),
                                             *impl->admin_handler, impl->logging->get("admin"));
    if (!admin_server) return fail("admin: " + admin_server.error());
    impl->admin_server = std::move(admin_server).value();
  }

  if (c.management.listen) {
    impl->management_handler =
        std::make_unique<ingress::ManagementHandler>(ingress::ManagementContext{
            impl->config, *impl->storage, *impl->metrics, impl->handler->readiness(),
            [raw](const std::string& name) { return raw->destination_state(name); }});
    http::ServerOptions mo = management_server_options(c);
    mo.server_name = std::string("ocirelay/") + kVersion;
    if (c.management.tls) {
      auto tls =
          http::make_server_tls_context(c.management.tls->cert_file, c.management.tls->key_file);
      if (!tls) return fail("management.tls: " + tls.error());
      mo.tls = std::move(tls).value();
    }
    auto management_server =
        http::Server::create(impl->io.get_executor(), std::move(mo), *impl->management_handler,
                             impl->logging->get("management"));
    if (!management_server) return fail("management.listen: " + management_server.error());
    impl->management_server = std::move(management_server).value();
  }

  return std::unique_ptr<Application>(new Application(std::move(impl)));
}

Application::Application(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Application::~Application() {
  // Coroutines abandoned by an unclean shutdown refer to the components; the
  // process is about to exit, so leave them all allocated rather than let
  // the io_context destroy those coroutines after the components.
  if (impl_ && impl_->tasks_abandoned) static_cast<void>(impl_.release());
}

int Application::run() {
  Impl& a = *impl_;
  const config::Config& c = a.config;
  a.log->info("ocirelay {} starting; configuration {}", kVersion,
              c.source_file.empty() ? "(embedded default)" : c.source_file);
  for (const auto& d : c.destinations) {
    auto url = http::parse_url(d.url);
    a.log->info("destination {}: {} (auth {}, concurrency {}, timeout {}, max_age {})", d.name,
                url ? url->redacted() : std::string("?"),
                d.auth.type == config::DestinationAuth::Type::basic    ? "basic"
                : d.auth.type == config::DestinationAuth::Type::oauth2 ? "oauth2"
                                                                       : "none",
                d.concurrency, format_duration(d.timeout), format_duration(d.retry.max_age));
  }
  for (const auto& r : c.routes) {
    a.log->info("route {} -> [{}]", r.name, join(r.destinations));
  }
  a.log->info("storage {}: {} event deliveries queued", c.storage.path, a.queued_at_start);
  // Outbound TLS without a tls.ca_file trusts this bundle (system_trust.hpp).
  if (const auto trust = http::find_system_trust()) {
    a.log->info("system CA bundle: {} ({})", trust->file, trust->from);
  } else {
    a.log->warn("no system CA bundle found; outbound TLS needs a tls.ca_file or SSL_CERT_FILE");
  }

  std::signal(SIGPIPE, SIG_IGN);
  // A file size limit (RLIMIT_FSIZE) must fail writes with EFBIG, which
  // storage reports, instead of killing the process.
  std::signal(SIGXFSZ, SIG_IGN);
  a.server->start();
  if (a.admin_server) {
    a.admin_server->start();
    a.log->info("admin endpoint on {} (ocirelayctl)", a.admin_server->local_address());
  }
  if (a.management_server) {
    a.management_server->start();
    a.log->info("management endpoint on {} ({}): GET /metrics, /health, /ready",
                a.management_server->local_address(), c.management.tls ? "https" : "http");
  } else {
    a.log->info(
        "management.listen is \"\": /metrics, /ready and the detailed /health are "
        "served on the ingress port");
  }
  for (auto& d : a.dispatchers) d->start();
  a.tasks.spawn(a.wait_for_signals(), "signal handler");
  a.tasks.spawn(a.prune_dedupe_periodically(), "dedupe pruning");
  if (a.logging->flush_interval().count() > 0) {
    a.tasks.spawn(a.flush_log_periodically(), "log flushing");
  }
  a.log->info("listening on {} ({}){}", a.server->local_address(), c.server.tls ? "https" : "http",
              c.server.auth ? "; ingress auth required" : "");
  a.notifier.ready("listening on " + a.server->local_address() + "; " +
                   std::to_string(a.queued_at_start) + " deliveries queued at start");
  if (a.notifier.watchdog_interval()) {
    a.log->info("systemd watchdog every {}", format_duration(*a.notifier.watchdog_interval() / 2));
    a.tasks.spawn(a.notifier.run_watchdog(), "systemd watchdog");
  }
  a.logging->flush();  // the start-up lines at once, whatever the flush interval
  // Returns when nothing is left to run: the shutdown has joined every
  // component and ended the application's own coroutines.
  a.io.run();
  a.storage->stop();
  if (!a.shutdown_clean) {
    a.log->error("ocirelay stopped, but the shutdown did not complete cleanly (exit code {})",
                 kExitShutdownIncomplete);
    a.logging->flush();
    return kExitShutdownIncomplete;
  }
  a.log->info("ocirelay stopped");
  a.logging->flush();
  return kExitOk;
}

namespace {

// Loads every TLS file the configuration names the way start-up will, so
// --check-config catches a key that does not match its certificate or a file
// that is not PEM. One message per problem, naming the file and key path.
std::vector<std::string> check_tls_files(const config::Config& c) {
  std::vector<std::string> problems;
  const std::string file = c.source_file.empty() ? "(embedded)" : c.source_file;
  if (c.server.tls) {
    auto ctx = http::make_server_tls_context(c.server.tls->cert_file, c.server.tls->key_file);
    if (!ctx) problems.push_back(file + ": server.tls: " + ctx.error());
  }
  if (c.management.tls) {
    auto ctx =
        http::make_server_tls_context(c.management.tls->cert_file, c.management.tls->key_file);
    if (!ctx) problems.push_back(file + ": management.tls: " + ctx.error());
  }
  // Outbound TLS without a ca_file needs the system CA bundle
  // (http/system_trust.hpp): a machine without one fails here, not at start.
  if (c.server.ons.auto_confirm) {
    auto ctx = http::make_client_tls_context(http::ClientTlsOptions{c.server.ons.ca_file, true, {}, {}});
    if (!ctx) problems.push_back(file + ": server.ons: " + ctx.error());
  }
  for (std::size_t i = 0; i < c.destinations.size(); ++i) {
    const auto& t = c.destinations[i].tls;
    const auto url = http::parse_url(c.destinations[i].url);
    if (!url || !url->tls) continue;
    auto ctx = http::make_client_tls_context(
        http::ClientTlsOptions{t.ca_file, t.verify, t.cert_file, t.key_file});
    if (!ctx) {
      problems.push_back(file + ": destinations[" + std::to_string(i) + "].tls: " + ctx.error());
    }
  }
  return problems;
}

// `storage check`: the storage file named by --storage, or by storage.path of
// the --config file, checked read-only. The report goes to stdout.
int storage_check(const CommandLine& cl, const std::string& program) {
  std::string path = cl.storage_path;
  if (path.empty()) {
    auto loaded = config::load_config(cl.config_path);
    if (!loaded) {
      for (const auto& e : loaded.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      std::fprintf(stderr,
                   "%s: configuration invalid (%zu error%s); name the file with --storage PATH "
                   "instead\n",
                   program.c_str(), loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
      return kExitUsage;
    }
    path = loaded.value().storage.path;
  }
  const auto report = storage::check_sqlite_storage(path);
  std::fputs(storage::format_storage_check(report).c_str(), stdout);
  std::fflush(stdout);
  return storage::storage_check_exit_code(report);
}

}  // namespace

int daemon_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string program = argc > 0 ? argv[0] : "ocirelayd";
  auto cl = parse_command_line(args);
  if (!cl) {
    std::fprintf(stderr, "%s: %s\n%s", program.c_str(), cl.error().c_str(),
                 usage(program).c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(usage(program).c_str(), stdout);
    return 0;
  }
  if (cl->version) {
    std::printf("ocirelayd %s\n", kVersion);
    return 0;
  }
  if (cl->command == CommandLine::Command::storage_check) return storage_check(*cl, program);
  auto loaded = cl->config_path.empty()
                    ? config::parse_config(config::embedded_default_config(), "(embedded dev.yaml)")
                    : config::load_config(cl->config_path);
  if (!loaded) {
    for (const auto& e : loaded.error()) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    std::fprintf(stderr, "%s: configuration invalid (%zu error%s)\n", program.c_str(),
                 loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
    return 2;
  }
  if (cl->check_config) {
    // Beyond the schema: the TLS files must load as certificates and keys.
    const auto problems = check_tls_files(loaded.value());
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!problems.empty()) {
      std::fprintf(stderr, "%s: configuration invalid (%zu error%s)\n", program.c_str(),
                   problems.size(), problems.size() == 1 ? "" : "s");
      return 2;
    }
    std::printf("%s: configuration OK\n",
                cl->config_path.empty() ? "(embedded dev.yaml)" : cl->config_path.c_str());
    return 0;
  }
  auto app = Application::create(std::move(loaded).value());
  if (!app) {
    std::fprintf(stderr, "%s: cannot start: %s\n", program.c_str(), app.error().message.c_str());
    return app.error().exit_code;
  }
  return app.value()->run();
}

}  // namespace ocirelay::app
