#include "ocirelay/app/server_limits.hpp"

namespace ocirelay::app {

using namespace std::chrono_literals;

http::ServerOptions server_limits(const config::Config& c) {
  http::ServerOptions so;
  so.max_body_bytes = c.server.max_body_bytes;
  so.max_header_bytes = c.server.max_header_bytes;
  so.max_connections = c.server.max_connections;
  so.header_timeout = c.server.header_timeout;
  so.body_timeout = c.server.body_timeout;
  so.idle_timeout = c.server.idle_timeout;
  so.write_timeout = c.server.write_timeout;
  return so;
}

http::ServerOptions management_server_options(const config::Config& c) {
  http::ServerOptions so;
  so.host = c.management.listen->host;
  so.port = c.management.listen->port;
  // Only GET and HEAD are served; any other method is answered 405 before its
  // body is read. A Content-Length above this is answered 413 from the header
  // alone; 64 KiB lets a misdirected ONS message (at most 64 KiB) get the 405.
  so.max_body_bytes = 64 * 1024;
  so.max_header_bytes = 8 * 1024;
  so.max_connections = 64;
  so.header_timeout = 5s;
  so.body_timeout = 5s;
  // Longer than Prometheus's default scrape interval (1m), so a scraper
  // keeps its connection.
  so.idle_timeout = 90s;
  so.write_timeout = 10s;
  return so;
}

}  // namespace ocirelay::app
