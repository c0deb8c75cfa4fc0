// The ingress server's limits and timeouts, taken from the configuration.
// One place, so that the daemon and the HTTP fuzz target serve with the same
// limits.
#pragma once

#include "ocirelay/config/config.hpp"
#include "ocirelay/http/server.hpp"

namespace ocirelay::app {

http::ServerOptions server_limits(const config::Config& c);

}  // namespace ocirelay::app
