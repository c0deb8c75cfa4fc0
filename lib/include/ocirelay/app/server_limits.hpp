// The ingress server's limits and timeouts, taken from the configuration, and
// the management server's fixed ones. One place, so that the daemon and the
// HTTP fuzz target serve with the same limits.
#pragma once

#include "ocirelay/config/config.hpp"
#include "ocirelay/http/server.hpp"

namespace ocirelay::app {

http::ServerOptions server_limits(const config::Config& c);

// The management listener (`management.listen`, which must be set): GET and
// HEAD only, small bodies and headers, few connections (a scraper, a health
// probe, an operator) and short timeouts. Address and limits, no TLS context.
http::ServerOptions management_server_options(const config::Config& c);

}  // namespace ocirelay::app
