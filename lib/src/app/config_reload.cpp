#include "app/config_reload.hpp"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/admin/admin_handler.hpp"
#include "ocirelay/app/server_limits.hpp"
#include "ocirelay/delivery/dispatcher.hpp"
#include "ocirelay/filter/route.hpp"
#include "ocirelay/http/server.hpp"
#include "ocirelay/ingress/ingress_handler.hpp"
#include "ocirelay/ingress/ons_confirmer.hpp"
#include "ocirelay/log/logging.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace ocirelay::app {

namespace asio = boost::asio;

ReloadPlan::ReloadPlan() = default;
ReloadPlan::ReloadPlan(ReloadPlan&&) noexcept = default;
ReloadPlan& ReloadPlan::operator=(ReloadPlan&&) noexcept = default;
ReloadPlan::~ReloadPlan() = default;

Result<ReloadPlan> ConfigReload::prepare(config::Config next) {
  keep_start_time_settings(next);
  const config::Config& running = t_.config;
  ReloadPlan plan;

  std::vector<const config::Destination*> changed;  // in `next`: new or different
  for (const auto& d : next.destinations) {
    auto old = std::find_if(running.destinations.begin(), running.destinations.end(),
                            [&](const config::Destination& o) { return o.name == d.name; });
    if (old == running.destinations.end() || !(*old == d)) changed.push_back(&d);
  }
  for (const auto& o : running.destinations) {
    if (std::none_of(next.destinations.begin(), next.destinations.end(),
                     [&](const config::Destination& d) { return d.name == o.name; })) {
      plan.removed.push_back(o.name);
    }
  }
  for (const auto* d : changed) {
    const auto index = static_cast<std::size_t>(d - next.destinations.data());
    storage::StorageWorker& queue = t_.delivery_storage.empty()
                                        ? t_.storage
                                        : *t_.delivery_storage[index % t_.delivery_storage.size()];
    auto made = delivery::Dispatcher::create(t_.executor, *d, queue, t_.metrics,
                                             t_.logging.get("delivery"));
    if (!made) return fail(made.error());
    plan.fresh.push_back(std::move(made).value());
  }
  // The server certificate and key are read again: a renewed certificate at
  // the same paths, or new paths. Plain HTTP to HTTPS or back needs a restart
  // (keep_start_time_settings).
  if (next.server.tls) {
    auto made =
        http::make_server_tls_context(next.server.tls->cert_file, next.server.tls->key_file);
    if (!made) return fail("server.tls: " + made.error());
    plan.server_tls = std::move(made).value();
  }
  // Likewise the management listener's (adding or removing management.tls
  // needs a restart).
  if (next.management.tls && t_.management_server != nullptr) {
    auto made = http::make_server_tls_context(next.management.tls->cert_file,
                                              next.management.tls->key_file);
    if (!made) return fail("management.tls: " + made.error());
    plan.management_tls = std::move(made).value();
  }
  // Last of the steps that can fail: reconfigure() applies at once.
  if (auto ons = t_.confirmer.reconfigure(next.server.ons); !ons) return fail(ons.error());
  plan.next = std::move(next);
  return plan;
}

asio::awaitable<void> ConfigReload::apply(ReloadPlan plan) {
  std::vector<filter::Route> routes;
  for (const auto& r : plan.next.routes) routes.emplace_back(r);
  t_.config = std::move(plan.next);
  const config::Config& c = t_.config;
  t_.router = filter::Router(std::move(routes));
  t_.handler.reconfigure();
  t_.server.set_limits(server_limits(c));
  if (plan.server_tls) {
    t_.server.set_tls_context(std::move(plan.server_tls));
    t_.log.info("reload: server certificate {} loaded for new connections",
                c.server.tls->cert_file);
  }
  if (plan.management_tls) {
    t_.management_server->set_tls_context(std::move(plan.management_tls));
    t_.log.info("reload: management certificate {} loaded for new connections",
                c.management.tls->cert_file);
  }
  if (t_.admin_handler != nullptr) {
    std::vector<std::string> names;
    for (const auto& d : c.destinations) names.push_back(d.name);
    t_.admin_handler->set_destinations(names);
  }

  // Retire the dispatchers of removed and changed destinations.
  const auto& removed = plan.removed;
  std::vector<delivery::Dispatcher*> retiring;
  for (auto it = t_.dispatchers.begin(); it != t_.dispatchers.end();) {
    const bool goes = std::find(removed.begin(), removed.end(), (*it)->name()) != removed.end() ||
                      std::any_of(plan.fresh.begin(), plan.fresh.end(),
                                  [&](const auto& f) { return f->name() == (*it)->name(); });
    if (goes) {
      (*it)->stop();
      retiring.push_back(it->get());
      t_.retired.push_back(std::move(*it));
      it = t_.dispatchers.erase(it);
    } else {
      ++it;
    }
  }
  std::vector<delivery::Dispatcher*> starting;
  for (auto& f : plan.fresh) {
    starting.push_back(f.get());
    t_.dispatchers.push_back(std::move(f));
  }
  t_.log.info(
      "configuration reloaded: {} route(s), {} destination(s) ({} new or changed, {} "
      "removed); log level {}",
      c.routes.size(), c.destinations.size(), starting.size(), removed.size(), c.log.level);
  if (auto level = t_.logging.set_level(c.log.level); !level) {
    t_.log.warn("reload: {}", level.error());
  }

  for (auto* old : retiring) {
    co_await old->drain(std::chrono::steady_clock::now() + c.server.shutdown_timeout);
    const std::string name = old->name();
    auto op = t_.storage.async_call<std::int64_t>(
        asio::use_awaitable, [name](storage::Store& s) { return s.release_inflight(name); });
    auto released = co_await std::move(op);
    if (!released) {
      t_.log.error("reload: cannot return {}'s deliveries to the queue: {}", name,
                   released.error().message);
    }
  }
  if (!t_.shutting_down) {
    for (auto* d : starting) d->start();
  }
  if (!removed.empty()) {
    auto stats = co_await t_.storage.async_stats(asio::use_awaitable);
    for (const auto& name : removed) {
      std::int64_t queued = 0;
      if (stats) {
        for (const auto& s : stats.value()) {
          if (s.destination == name) queued = s.pending + s.inflight + s.dead;
        }
      }
      t_.log.warn(
          "destination {} was removed from the configuration; {} of its deliveries stay "
          "in storage (add it back to deliver them)",
          name, queued);
    }
  }
}

void ConfigReload::keep_start_time_settings(config::Config& next) {
  const config::Config& running = t_.config;
  auto keep = [&](auto& field, const auto& value, const char* key) {
    if (!(field == value)) {
      t_.log.warn("reload: {} changed; it takes effect only after a restart", key);
      field = value;
    }
  };
  keep(next.server.listen, running.server.listen, "server.listen");
  if (next.server.tls.has_value() != running.server.tls.has_value()) {
    t_.log.warn("reload: server.tls {}; it takes effect only after a restart",
                next.server.tls ? "added" : "removed");
    next.server.tls = running.server.tls;
  }
  keep(next.management.listen, running.management.listen, "management.listen");
  if (next.management.tls.has_value() != running.management.tls.has_value()) {
    t_.log.warn("reload: management.tls {}; it takes effect only after a restart",
                next.management.tls ? "added" : "removed");
    next.management.tls = running.management.tls;
  }
  keep(next.server.shutdown_timeout, running.server.shutdown_timeout, "server.shutdown_timeout");
  keep(next.storage, running.storage, "storage");
  keep(next.admin, running.admin, "admin");
  keep(next.log.file, running.log.file, "log.file");
  keep(next.log.format, running.log.format, "log.format");
  keep(next.log.max_size, running.log.max_size, "log.max_size");
  keep(next.log.max_files, running.log.max_files, "log.max_files");
  keep(next.log.flush_interval, running.log.flush_interval, "log.flush_interval");
}

}  // namespace ocirelay::app
