// The daemon's configuration: plain structs with their defaults, filled once
// by load_config() (config/loader.hpp) and passed down as `const&`.
// Secret references are already resolved in these values; never log them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
  std::size_t max_batch_events = 1000;  // events in one batch request (a JSON array)
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 4096;
  Duration header_timeout = 10s;  // from connect (or last response) to a full header
  Duration body_timeout = 30s;    // to read the body once the header is in
  Duration idle_timeout = 60s;    // keep-alive connection with no request
  Duration write_timeout = 30s;   // to write one response to a client that reads slowly
  std::optional<IngressAuth> auth;
  Ons ons;
  Duration shutdown_timeout = 20s;

  bool operator==(const Server&) const = default;
};

// `storage.postgresql`: the shared database of several relays (issue 12).
struct PostgresqlStorage {
  // libpq URI or conninfo, secret references resolved. A secret: never in a
  // log, an error or a metric (messages name the key path only).
  std::string url;
  // This process in the cluster (claims, stats); empty in the file: the
  // host name, filled in by the loader.
  std::string node_id;
  Duration lease = 30s;  // a claimed delivery stays with its node this long
  unsigned pool_size = 4;  // connections per node
  Duration connect_timeout = 5s;
  std::string ca_file;  // empty: libpq's default (sslrootcert in the URL)
  // Each destination looks at the queue at least this often, in case a
  // notification of new events (LISTEN/NOTIFY) was lost.
  Duration poll_interval = 5s;

  bool operator==(const PostgresqlStorage&) const = default;
};

struct Storage {
  enum class Backend { sqlite, postgresql };
  Backend backend = Backend::sqlite;
  std::string path = "/var/lib/ocirelay/queue.db";  // sqlite only
  Duration dedupe_window = 24h;
  // Free space (bytes) kept on the database's file system for delivery
  // bookkeeping: below it new events get 503 while deliveries go on.
  // nullopt: 64 MiB, at most a tenth of the file system
  // (storage::SpaceGuard::default_reserve); 0: none.
  std::optional<std::uint64_t> reserve;
  // Quota on the database (main file + WAL), bytes; 0: none.
  std::uint64_t max_size = 0;
  PostgresqlStorage postgresql;  // postgresql only

  bool operator==(const Storage&) const = default;
};

struct Log {
  enum class Format { text, json };
  std::string level = "info";  // trace, debug, info, warn, error
  std::string file;            // empty: stderr only
  Format format = Format::text;
  std::uint64_t max_size = 100ull * 1024 * 1024;  // bytes; the file rotates past it; 0: never
  unsigned max_files = 5;                          // rotated files kept (file.1 ... file.N)
  Duration flush_interval = 1s;  // lines buffered up to this long (warnings not); 0: none

  bool operator==(const Log&) const = default;
};

// Who signs OCI requests (`oci.principal`, a destination's `auth.principal`).
enum class OciPrincipal { none, api_key, instance };

// An OCI API signing key (`oci.api_key`): keyId is tenancy/user/fingerprint.
struct OciApiKey {
  std::string tenancy;      // OCID
  std::string user;         // OCID
  std::string fingerprint;  // "aa:bb:...", 16 lowercase hex pairs; matches the key
  std::string key_file;     // PEM, RSA
  std::string passphrase;   // secret; empty: the key is not encrypted
  std::string key_pem;      // secret: key_file's content, read (and checked) at load

  bool operator==(const OciApiKey&) const = default;
};

// The base URLs of the OCI services the relay calls itself (`oci.endpoints`),
// without a trailing '/'. Empty: derived from the region (oci/oci_endpoints.hpp).
struct OciEndpoints {
  // The instance metadata service v2: the only link-local address the relay
  // ever contacts, and only for the instance principal.
  std::string metadata = "http://169.254.169.254/opc/v2";
  std::string federation;  // empty: https://auth.<region>.<realm domain>
  std::string secrets;     // empty: https://secrets.vaults.<region>.oci.<realm domain>

  bool operator==(const OciEndpoints&) const = default;
};

// The top-level `oci:` section: the OCI identity the relay signs requests with.
struct Oci {
  OciPrincipal principal = OciPrincipal::none;  // the default of auth.principal
  std::string region;  // "eu-frankfurt-1"; empty: from the metadata service (instance)
  std::optional<OciApiKey> api_key;
  OciEndpoints endpoints;
  std::string ca_file;  // CA bundle for the https OCI endpoints; empty: the system store

  bool operator==(const Oci&) const = default;
};

struct DestinationAuth {
  enum class Type { none, basic, oauth2, oci_signature };
  Type type = Type::none;
  // basic
  std::string username;
  std::string password;  // secret
  // oauth2: client credentials against an identity domain's token endpoint
  std::string token_url;      // http:// or https://
  std::string client_id;
  std::string client_secret;  // secret
  std::string scope;          // e.g. "https://<host>:443urn:opc:resource:consumer::all"
  // oci_signature: the principal that signs (after loading never none: the
  // `oci.principal` when not given), and its key, copied from `oci.api_key`
  // at load (so that a changed key changes the destination at reload)
  OciPrincipal principal = OciPrincipal::none;
  OciApiKey api_key;  // secrets inside
  Oci oci;            // the whole oci section (the instance principal's settings)

  bool operator==(const DestinationAuth&) const = default;
};

struct Retry {
  Duration initial_backoff = 1s;
  Duration max_backoff = 5min;
  Duration max_age = 72h;
  unsigned max_attempts = 0;  // 0: no limit (max_age still applies)
  // HTTP statuses that override the default verdict (delivery/backoff.hpp):
  // retried, or dead-lettered at once. Written as codes or classes ("5xx").
  std::vector<int> retry_on;
  std::vector<int> dead_letter_on;

  bool operator==(const Retry&) const = default;
};

struct DestinationTls {
  std::string ca_file;    // empty: system trust store
  std::string cert_file;  // client certificate (mTLS); set together with key_file
  std::string key_file;
  bool verify = true;  // false: no certificate or host-name check (warned at start)

  bool operator==(const DestinationTls&) const = default;
};

// An extra request header sent with every delivery to a destination.
struct DestinationHeader {
  std::string name;
  std::string value;  // may come from a secret reference: never logged

  bool operator==(const DestinationHeader&) const = default;
};

// What a destination receives: the event byte for byte (raw), or a compact
// JSON object of selected values (fields: name -> JSON Pointer into the
// event, in configuration order).
struct DestinationPayload {
  enum class Kind { raw, fields };
  Kind kind = Kind::raw;
  std::vector<std::pair<std::string, std::string>> fields;

  bool operator==(const DestinationPayload&) const = default;
};

// Opt-in batching (docs/oic-batching.md): several events in one request, so
// that Oracle Integration bills one message per started 50 KiB rather than
// one per event. Off when max_events is 1.
struct DestinationBatch {
  static constexpr std::uint64_t kOicMessageBytes = 50 * 1024;  // one billed message

  unsigned max_events = 1;                     // events per request; 1: no batching
  std::uint64_t max_bytes = kOicMessageBytes;  // whole request body, envelope included
  Duration max_wait = 1s;                      // the oldest waiting event goes within this
  // The body is {"<envelope>": [event, ...]}; empty: a bare JSON array.
  std::string envelope = "events";

  bool enabled() const noexcept { return max_events > 1; }
  bool operator==(const DestinationBatch&) const = default;
};

struct Destination {
  std::string name;
  std::string url;  // http:// or https://, taken whole, never built
  DestinationAuth auth;
  Duration timeout = 30s;
  Retry retry;
  DestinationTls tls;
  unsigned concurrency = 4;  // requests in flight to this destination
  double rate_limit = 0;     // deliveries per second, token bucket; 0: unlimited
  std::vector<DestinationHeader> headers;  // after the fixed ones, in this order
  DestinationPayload payload;
  DestinationBatch batch;

  bool operator==(const Destination&) const = default;
};

// A route as configured: `match:` compiled, the shorthands, the destinations.
using Route = filter::RouteSpec;

// The admin endpoint (ocirelayctl): HTTP on a Unix socket, mode 0660.
struct Admin {
  std::string socket = "/run/ocirelay/admin.sock";

  bool operator==(const Admin&) const = default;
};

// The management endpoint: GET /metrics, the detailed GET /health and
// GET /ready on a listener of their own, so that the ingress port (which ONS
// needs to reach from the internet) serves only POST /v1/events and a
// minimal /health. Loopback by default.
struct Management {
  // Outside 9090-9999 (Prometheus, its Pushgateway and Alertmanager, and the
  // range allocated to exporters such as node_exporter's 9100) and away from
  // the ingress ports (8443; 8080 in config/dev.yaml).
  static constexpr std::uint16_t kDefaultPort = 8484;

  // nullopt (written `listen: ""`): no management listener; the ingress port
  // serves every endpoint, as before this section existed.
  std::optional<ListenAddress> listen = ListenAddress{"127.0.0.1", kDefaultPort};
  std::optional<ServerTls> tls;  // absent: plain HTTP

  bool operator==(const Management&) const = default;
};

struct Config {
  std::string source_file;  // the file it was loaded from
  Server server;
  Management management;
  Storage storage;
  Log log;
  Oci oci;
  std::vector<Destination> destinations;
  std::vector<Route> routes;
  std::optional<Admin> admin;  // absent: no admin endpoint
};

}  // namespace ocirelay::config
