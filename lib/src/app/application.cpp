#include "ocirelay/app/application.hpp"
#include "ocirelay/app/server_limits.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <list>
#include <optional>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "app/config_reload.hpp"
#include "ocirelay/admin/admin_handler.hpp"
#include "ocirelay/app/service_notifier.hpp"
#include "ocirelay/common/exception_text.hpp"
#include "ocirelay/common/task_group.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/delivery/batch_plan.hpp"
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
#include "ocirelay/oci/vault_secret_reader.hpp"
#include "ocirelay/storage/pg_listener.hpp"
#include "ocirelay/storage/storage_worker.hpp"
#include "ocirelay/storage/store.hpp"
#include "ocirelay_version.hpp"

namespace ocirelay::app {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr Duration kDedupePruneInterval = 10min;
constexpr Duration kReloadVaultBudget = 10s;

// Raises the soft open-file limit to the hard one: every ingress connection
// holds a descriptor (the server fits max_connections to the limit).
void raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

storage::PostgresqlOptions postgresql_options(const config::PostgresqlStorage& pg) {
  storage::PostgresqlOptions options;
  options.url = pg.url;
  options.node_id = pg.node_id;
  options.lease = std::chrono::duration_cast<std::chrono::milliseconds>(pg.lease);
  options.connect_timeout =
      std::chrono::duration_cast<std::chrono::milliseconds>(pg.connect_timeout);
  options.ca_file = pg.ca_file;
  return options;
}

// The configured backend. With PostgreSQL: connected, and the schema created
// or upgraded (refused when newer than this build). The error never holds
// the database URL (storage::open_postgresql_store).
Result<std::unique_ptr<storage::Store>, storage::StoreError> open_store(
    const config::Storage& storage) {
  if (storage.backend == config::Storage::Backend::postgresql) {
    return storage::open_postgresql_store(postgresql_options(storage.postgresql));
  }
  return storage::open_sqlite_store(storage::SqliteOptions{storage.path, true});
}

// Where the queue is, for the start-up line (never the database URL).
std::string storage_description(const config::Storage& storage) {
  if (storage.backend == config::Storage::Backend::postgresql) {
    return "postgresql (node " + storage.postgresql.node_id + ")";
  }
  return storage.path;
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
  // PostgreSQL with pool_size >= 2: connections (each with its storage
  // thread) for the dispatchers' claims and results, so that they do not
  // wait behind the accept path's commits; destination i uses [i % size].
  // Empty: the dispatchers use `storage`.
  std::vector<std::unique_ptr<storage::StorageWorker>> delivery_storage;
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
  // PostgreSQL only: other relays' new events, the fallback poll, and the
  // renewal of this relay's claims.
  std::unique_ptr<storage::PgListener> listener;
  asio::steady_timer poll_timer{io};
  asio::steady_timer renew_timer{io};
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
    log->critical("{} ended by an exception: {}", task, exception_text(e));
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
    poll_timer.cancel();
    renew_timer.cancel();
    if (listener) listener->stop();
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

  void notify_all() {
    for (const auto& d : dispatchers) d->notify();
  }

  // Another relay queued events (PgListener's thread): wake those
  // destinations here; none named: all of them.
  void heard_new_events(std::vector<std::string> destinations) {
    asio::post(io, [this, destinations = std::move(destinations)] {
      if (shutting_down) return;
      if (destinations.empty()) {
        notify_all();
      } else {
        notify(destinations);
      }
    });
  }

  // Every poll_interval, every destination looks at the queue, in case a
  // notification was lost (the listening connection was down).
  asio::awaitable<void> poll_periodically() {
    while (!shutting_down) {
      poll_timer.expires_after(config.storage.postgresql.poll_interval);
      auto [ec] = co_await poll_timer.async_wait(nothrow);
      if (ec || shutting_down) break;
      notify_all();
    }
  }

  // The claim tokens the dispatchers (retired ones still draining included)
  // hold deliveries of. On the io_context's thread, as the dispatchers.
  std::vector<std::int64_t> held_claims() const {
    std::vector<std::int64_t> claims;
    for (const auto& d : dispatchers) d->held_claims(claims);
    for (const auto& d : retired) d->held_claims(claims);
    std::sort(claims.begin(), claims.end());
    claims.erase(std::unique(claims.begin(), claims.end()), claims.end());
    return claims;
  }

  // Every lease / 3, the lease of this relay's claims (deliveries in flight)
  // is extended, so that an attempt longer than the lease keeps its claim.
  // Only the claims the dispatchers hold are: one whose rows this relay never
  // received (the connection dropped as fetch_due committed), or whose rows
  // it no longer holds, runs out and is taken again. A relay that dies stops
  // renewing: its claims run out and others take them.
  asio::awaitable<void> renew_claims_periodically() {
    const auto period = std::max<Duration>(
        std::chrono::duration_cast<Duration>(config.storage.postgresql.lease) / 3, 100ms);
    while (!shutdown_done) {
      renew_timer.expires_after(period);
      auto [ec] = co_await renew_timer.async_wait(nothrow);
      if (ec) break;
      const storage::Millis now = storage::now_millis();
      // A named callable, moved in: a temporary with a non-trivial capture
      // in the co_await expression is destroyed twice by GCC 12.
      auto renew = [now, claims = held_claims()](storage::Store& s) {
        return s.renew_claims(now, claims);
      };
      auto renewed =
          co_await storage->async_call<std::int64_t>(asio::use_awaitable, std::move(renew));
      if (!renewed) {
        log->warn("cannot renew the lease of this relay's deliveries in flight: {}",
                  renewed.error().message);
      } else if (renewed.value() > 0) {
        log->debug("renewed the lease of {} delivery(ies) in flight", renewed.value());
      }
    }
  }

  asio::awaitable<void> prune_dedupe_periodically() {
    asio::steady_timer& timer = prune_timer;
    while (!shutting_down) {
      const storage::Millis cutoff = storage::now_millis() - config.storage.dedupe_window.count();
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
        log->warn(
            "{} received again: forcing the shutdown; deliveries in flight are aborted "
            "and stay queued",
            name);
        logging->flush();
        shutdown_forced = true;
        stopping.cancel(asio::cancellation_type::terminal);
      }
    }
  }

  ConfigReload reloader() {
    return ConfigReload(ReloadTargets{config, io.get_executor(), *logging, *log, *storage,
                                      delivery_storage, *metrics, *router, *confirmer, *handler,
                                      *server, management_server.get(), admin_handler.get(),
                                      dispatchers, retired, shutting_down});
  }

  // SIGHUP: reads the configuration file again and applies what can change
  // while running (ConfigReload); an invalid file, or one whose destinations
  // or certificates cannot be set up, is refused with its errors and the
  // running configuration kept. systemd hears RELOADING=1, then READY=1
  // however the reload ends.
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
    // Loading blocks this thread (the event loop): ${vault:} reads get
    // kReloadVaultBudget in all, well within half the unit's WatchdogSec.
    auto loaded = config::load_config(path, oci::secret_sources_with_vault(kReloadVaultBudget));
    if (!loaded) {
      for (const auto& e : loaded.error()) log->error("reload: {}", e.to_string());
      log->error("reload refused ({} error(s)); keeping the running configuration",
                 loaded.error().size());
      co_return;
    }
    ConfigReload reload = reloader();
    auto plan = reload.prepare(std::move(loaded).value());
    if (!plan) {
      log->error("reload refused: {}; keeping the running configuration", plan.error());
      co_return;
    }
    co_await reload.apply(std::move(plan).value());
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
      log->error(
          "cannot return the aborted deliveries to the queue: {} (they are at the next "
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
  auto logging = log::Logging::create(
      log::LogOptions{c.log.level, c.log.file, c.log.format == config::Log::Format::json,
                      c.log.max_size, c.log.max_files, flush_interval});
  if (!logging) return fail(logging.error());
  impl->logging = std::move(logging).value();
  impl->log = impl->logging->get("main");

  auto store = open_store(c.storage);
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

  if (c.storage.backend == config::Storage::Backend::postgresql &&
      c.storage.postgresql.pool_size >= 2 && !c.destinations.empty()) {
    const std::size_t connections =
        std::min<std::size_t>(c.storage.postgresql.pool_size - 1, c.destinations.size());
    for (std::size_t i = 0; i < connections; ++i) {
      auto queue = storage::open_postgresql_store(postgresql_options(c.storage.postgresql));
      if (!queue) {
        // The first connection works: a server short of connections (its
        // max_connections sized for fewer per relay) costs speed, not service.
        impl->log->warn("storage: cannot open delivery connection {} of {} ({}); deliveries use {}",
                        i + 1, connections, queue.error().message,
                        impl->delivery_storage.empty() ? std::string("the main connection")
                                                       : std::to_string(i) + " connection(s)");
        break;
      }
      impl->delivery_storage.push_back(std::make_unique<storage::StorageWorker>(
          std::move(queue).value(), impl->logging->get("storage"), impl->metrics.get()));
    }
  }

  std::vector<filter::Route> routes;
  for (const auto& r : c.routes) routes.emplace_back(r);
  impl->router = std::make_unique<filter::Router>(std::move(routes));

  auto confirmer = ingress::OnsConfirmer::create(impl->io.get_executor(), c.server.ons,
                                                 impl->logging->get("ons"));
  if (!confirmer) return fail(confirmer.error());
  impl->confirmer = std::move(confirmer).value();

  for (std::size_t i = 0; i < c.destinations.size(); ++i) {
    storage::StorageWorker& queue =
        impl->delivery_storage.empty() ? *impl->storage
                                       : *impl->delivery_storage[i % impl->delivery_storage.size()];
    auto dispatcher =
        delivery::Dispatcher::create(impl->io.get_executor(), c.destinations[i], queue,
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
        [raw](const std::vector<std::string>& d) { raw->notify(d); }, impl->logging->get("admin"),
        [raw](const std::string& name) {
          const auto billing = raw->metrics->billing(name);
          return admin::AdminContext::Billing{billing.events, billing.messages};
        }});
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
                d.auth.type == config::DestinationAuth::Type::basic           ? "basic"
                : d.auth.type == config::DestinationAuth::Type::oauth2        ? "oauth2"
                : d.auth.type == config::DestinationAuth::Type::oci_signature ? "oci_signature"
                                                                              : "none",
                d.concurrency, format_duration(d.timeout), format_duration(d.retry.max_age));
    if (d.batch.enabled()) {
      a.log->info("destination {}: {}", d.name, delivery::describe_batch(d.batch));
    }
  }
  for (const auto& r : c.routes) {
    a.log->info("route {} -> [{}]", r.name, join(r.destinations));
  }
  a.log->info("storage {}: {} event deliveries queued", storage_description(c.storage),
              a.queued_at_start);
  if (c.storage.backend == config::Storage::Backend::postgresql) {
    a.log->info(
        "postgresql: {} connection(s) to the database: 1 for new events and administration, {} "
        "for deliveries, 1 listening for other relays' new events",
        2 + a.delivery_storage.size(),
        a.delivery_storage.empty() ? std::string("the same")
                                   : std::to_string(a.delivery_storage.size()));
  }
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
  if (c.storage.backend == config::Storage::Backend::postgresql) {
    a.listener = storage::PgListener::start(
        postgresql_options(c.storage.postgresql),
        [raw = &a](std::vector<std::string> d) { raw->heard_new_events(std::move(d)); },
        a.logging->get("storage"));
    if (!a.listener) {
      a.log->warn("cannot listen for other relays' new events (no pipe); polling every {}",
                  format_duration(c.storage.postgresql.poll_interval));
    }
    a.tasks.spawn(a.poll_periodically(), "queue polling");
    a.tasks.spawn(a.renew_claims_periodically(), "lease renewal");
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
  for (auto& worker : a.delivery_storage) worker->stop();
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

}  // namespace ocirelay::app
