// Syntax checks for the network values of the configuration: listen addresses
// and destination URLs. Messages describe the problem without repeating the
// value (the caller quotes it as written, which may differ from the resolved
// value checked here). Pure functions; no thread affinity.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config::detail {

// "host:port", "[ipv6]:port"; host an IPv4 address, a bracketed IPv6 address
// or a host name; port 0..65535 (0: any free port).
Result<ListenAddress> parse_listen_address(std::string_view text);

// Why `url` is not an acceptable destination URL (http:// or https://, a host,
// an optional port 1..65535, no user:pass@, no fragment, no spaces, not a
// link-local address), or nullopt when it is.
std::optional<std::string> url_problem(std::string_view url);

// `url` with any "user:pass@" replaced by "***@", for quoting.
std::string redact_userinfo(std::string_view url);

// Why `pattern` is not a host name pattern ("*.oraclecloud.com"), or nullopt.
std::optional<std::string> host_pattern_problem(std::string_view pattern);

}  // namespace ocirelay::config::detail
