// PgListener: how a relay on a shared PostgreSQL database hears that another
// relay (or itself) queued new events: a connection of its own that LISTENs
// on kPgNewEventsChannel, where every insert transaction that queues
// deliveries NOTIFYs the destinations it queued them for (PgStore). Without
// it, a relay would find another relay's events only at its next poll.
//
// Each notification, and each (re)connection, calls `on_new_events` on the
// listener's thread with the destinations named; an empty list means any
// destination may have new work (the connection was just made, so
// notifications sent while it was down are lost, or a payload was too long).
// A lost connection is made again with a backoff (250 ms doubling up to 5 s);
// the first failure and the recovery are logged.
//
// Thread and lifetime contract: start() starts the thread; stop() asks it to
// end (it may still be in one connection attempt, up to connect_timeout);
// the destructor stops and joins it. on_new_events must be safe to call from
// that thread until the destructor returns.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ocirelay/storage/store.hpp"

namespace spdlog {
class logger;
}

namespace ocirelay::storage {

inline constexpr const char* kPgNewEventsChannel = "ocirelay_new_events";

class PgListener {
 public:
  using Callback = std::function<void(std::vector<std::string> destinations)>;

  static std::unique_ptr<PgListener> start(PostgresqlOptions options, Callback on_new_events,
                                           std::shared_ptr<spdlog::logger> log);
  ~PgListener();
  PgListener(const PgListener&) = delete;
  PgListener& operator=(const PgListener&) = delete;

  void stop();

  class Impl;

 private:
  explicit PgListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ocirelay::storage
