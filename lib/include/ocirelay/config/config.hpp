// The daemon's configuration: plain structs with their defaults, filled once
// by load_config() (config/loader.hpp) and passed down as `const&`.
// Secret references are already resolved in these values; never log them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/filter/route.hpp"

namespace ocirelay::config {

using namespace std::chrono_literals;

struct ListenAddress {
  std::string host = "0.0.0.0";  // IPv6 without brackets
  std::uint16_t port = 8443;

  bool operator==(const ListenAddress&) const = default;
};

struct ServerTls {
  std::string cert_file;
  std::string key_file;

  bool operator==(const ServerTls&) const = default;
};

struct BasicCredential {
  std::string username;
  std::string password;  // secret

  bool operator==(const BasicCredential&) const = default;
};

struct IngressAuth {
  std::vector<BasicCredential> basic;
  std::vector<std::string> bearer_tokens;  // secrets

  bool operator==(const IngressAuth&) const = default;
};

struct Ons {
  bool auto_confirm = true;
  // Host patterns (`*` wildcards) whose confirmation URLs may be fetched.
  std::vector<std::string> confirm_url_hosts{"*.oraclecloud.com"};
  std::string ca_file;  // empty: system trust store
  Duration confirm_timeout = 10s;

  bool operator==(const Ons&) const = default;
};

struct Server {
  ListenAddress listen;
  std::optional<ServerTls> tls;
  std::size_t max_body_bytes = 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 4096;
  Duration header_timeout = 10s;  // from connect (or last response) to a full header
  Duration body_timeout = 30s;    // to read the body once the header is in
  Duration idle_timeout = 60s;    // keep-alive connection with no request
  std::optional<IngressAuth> auth;
  Ons ons;
  Duration shutdown_timeout = 20s;

  bool operator==(const Server&) const = default;
};

struct Storage {
  std::string path = "/var/lib/ocirelay/queue.db";
  Duration dedupe_window = 24h;

  bool operator==(const Storage&) const = default;
};

struct Log {
  std::string level = "info";  // trace, debug, info, warn, error
  std::string file;            // empty: stderr only

  bool operator==(const Log&) const = default;
};

struct DestinationAuth {
  enum class Type { none, basic };
  Type type = Type::none;
  std::string username;
  std::string password;  // secret

  bool operator==(const DestinationAuth&) const = default;
};

struct Retry {
  Duration initial_backoff = 1s;
  Duration max_backoff = 5min;
  Duration max_age = 72h;

  bool operator==(const Retry&) const = default;
};

struct DestinationTls {
  std::string ca_file;  // empty: system trust store

  bool operator==(const DestinationTls&) const = default;
};

struct Destination {
  std::string name;
  std::string url;  // http:// or https://, taken whole, never built
  DestinationAuth auth;
  Duration timeout = 30s;
  Retry retry;
  DestinationTls tls;
  unsigned concurrency = 4;  // requests in flight to this destination

  bool operator==(const Destination&) const = default;
};

// A route as configured: `match:` compiled, the shorthands, the destinations.
using Route = filter::RouteSpec;

struct Config {
  std::string source_file;  // the file it was loaded from
  Server server;
  Storage storage;
  Log log;
  std::vector<Destination> destinations;
  std::vector<Route> routes;
};

}  // namespace ocirelay::config
