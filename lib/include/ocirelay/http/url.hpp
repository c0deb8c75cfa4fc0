// Absolute http(s) URLs, split into the parts a client needs. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"

namespace ocirelay::http {

struct Url {
  bool tls = false;        // https
  std::string host;        // without brackets for IPv6 literals
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string target;      // path and query, at least "/"
  bool has_userinfo = false;

  // host[:port] as the Host header carries it: IPv6 in brackets, the port
  // only when it is not the scheme's default.
  std::string host_header() const;
  // scheme://host[:port] with no credentials, for logs.
  std::string origin() const;
  // origin() + target, with any query string replaced by "?...", for logs.
  std::string redacted() const;
};

// Parses "http://host[:port][/path][?query]" or https. User info
// ("user:pass@") is accepted but dropped and flagged; fragments are dropped.
Result<Url> parse_url(std::string_view text);

// True when `host` is an IPv4 or IPv6 literal.
bool is_ip_literal(std::string_view host);

}  // namespace ocirelay::http
