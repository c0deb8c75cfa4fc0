#include "ocirelay/app/server_limits.hpp"

namespace ocirelay::app {

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

}  // namespace ocirelay::app
