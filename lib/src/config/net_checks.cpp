#include "config/net_checks.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <arpa/inet.h>

namespace ocirelay::config::detail {

namespace {

bool is_ipv4(const std::string& s) {
  in_addr addr{};
  return ::inet_pton(AF_INET, s.c_str(), &addr) == 1;
}

bool is_ipv6(const std::string& s) {
  in6_addr addr{};
  return ::inet_pton(AF_INET6, s.c_str(), &addr) == 1;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// A DNS name: labels of letters, digits, '-' and '_' (seen in internal
// names) separated by dots; no empty label; one trailing dot allowed.
bool is_host_name(std::string_view s) {
  if (s.ends_with('.')) {
    s.remove_suffix(1);
  }
  if (s.empty() || s.size() > 253) {
    return false;
  }
  while (true) {
    const auto dot = s.find('.');
    const std::string_view label = s.substr(0, dot);
    if (label.empty() || label.size() > 63 || !std::all_of(label.begin(), label.end(), [](char c) {
          return is_alnum(c) || c == '-' || c == '_';
        })) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    s.remove_prefix(dot + 1);
  }
}

// A port: 1 to 5 digits, at most 65535.
std::optional<std::uint16_t> parse_port(std::string_view s) {
  if (s.empty() || s.size() > 5 || !std::all_of(s.begin(), s.end(), is_digit)) {
    return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  if (value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

// A link-local address (169.254.0.0/16, fe80::/10, or either mapped into
// IPv6) or another address of the metadata service (fd00:c1::a9fe:a9fe,
// 64:ff9b::a9fe:a9fe), written as a URL's host.
bool link_local_literal(const std::string& host, bool bracketed) {
  in_addr v4{};
  // inet_aton, as the resolver reads a host: 0xa9fea9fe, 2852039166 and
  // 169.254.43518 are 169.254.169.254 too.
  if (!bracketed && ::inet_aton(host.c_str(), &v4) != 0) {
    const auto* b = reinterpret_cast<const unsigned char*>(&v4.s_addr);
    return b[0] == 169 && b[1] == 254;
  }
  in6_addr v6{};
  if (bracketed && ::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    const unsigned char* b = v6.s6_addr;
    const bool mapped = std::all_of(b, b + 10, [](unsigned char c) { return c == 0; }) &&
                        b[10] == 0xff && b[11] == 0xff;
    static const std::array<unsigned char, 16> kMetadata{
        0xfd, 0x00, 0x00, 0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0xa9, 0xfe, 0xa9, 0xfe};
    static const std::array<unsigned char, 16> kNat64{0x00, 0x64, 0xff, 0x9b, 0,    0,    0,   0, 0,
                                                      0,    0,    0,    0xa9, 0xfe, 0xa9, 0xfe};
    const bool metadata =
        std::equal(b, b + 16, kMetadata.begin()) || std::equal(b, b + 16, kNat64.begin());
    return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || (mapped && b[12] == 169 && b[13] == 254) ||
           metadata;
  }
  return false;
}

constexpr const char* kLinkLocalProblem =
    "is a link-local address: the only one the relay contacts is the instance "
    "metadata service's (oci.endpoints.metadata)";

// Checks "host[:port]" or "[v6][:port]" of a URL.
std::optional<std::string> authority_problem(std::string_view authority) {
  if (authority.empty()) {
    return "has no host";
  }
  std::string_view host;
  std::string_view rest;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return "has an IPv6 host without its closing ']'";
    }
    const std::string v6(authority.substr(1, close - 1));
    if (!is_ipv6(v6)) {
      return "has an invalid IPv6 address";
    }
    if (link_local_literal(v6, true)) {
      return kLinkLocalProblem;
    }
    rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return "has garbage after the IPv6 address";
    }
  } else {
    const auto colon = authority.find(':');
    host = authority.substr(0, colon);
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
    if (host.empty()) {
      return "has no host";
    }
    if (!is_host_name(host)) {
      return "has an invalid host name";
    }
    if (link_local_literal(std::string(host), false)) {
      return kLinkLocalProblem;
    }
  }
  if (!rest.empty()) {
    const auto port = parse_port(rest.substr(1));
    if (!port || *port == 0) {
      return "has an invalid port (expected 1 to 65535)";
    }
  }
  return std::nullopt;
}

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      return fail("an IPv6 address needs its closing ']', as in [::]:8443");
    }
    out.host = std::string(text.substr(1, close - 1));
    if (!is_ipv6(out.host)) {
      return fail("not a valid IPv6 address between the brackets");
    }
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return fail("expected a port after the address, as in [::]:8443");
    }
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return fail("expected host:port, as in 0.0.0.0:8443 or [::]:8443");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (out.host.empty()) {
      return fail("missing host; use 0.0.0.0 for all IPv4 interfaces or [::] for all");
    }
    if (out.host.find(':') != std::string::npos) {
      return fail("an IPv6 address must be in brackets, as in [::]:8443");
    }
    const bool numeric = std::all_of(out.host.begin(), out.host.end(),
                                     [](char c) { return is_digit(c) || c == '.'; });
    if (numeric ? !is_ipv4(out.host) : !is_host_name(out.host)) {
      return fail(numeric ? "not a valid IPv4 address" : "not a valid host name");
    }
  }
  const auto port = parse_port(port_text);
  if (!port) {
    return fail("the port must be a number from 0 to 65535");
  }
  out.port = *port;
  return out;
}

std::optional<std::string> url_problem(std::string_view url) {
  if (std::any_of(url.begin(), url.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= 0x20 || u == 0x7f;
      })) {
    return "must not contain spaces or control characters";
  }
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return "must start with http:// or https://";
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "must not contain credentials (user:pass@); use the destination's auth instead";
  }
  if (url.find('#') != std::string_view::npos) {
    return "must not contain a fragment ('#')";
  }
  if (auto problem = authority_problem(authority)) {
    return problem;
  }
  return std::nullopt;
}

std::string redact_userinfo(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    // No scheme to anchor on: hide everything up to an '@', if any.
    const auto at = url.find('@');
    return at == std::string_view::npos ? std::string(url) : "***" + std::string(url.substr(at));
  }
  const std::size_t begin = scheme_end + 3;
  const std::size_t end = std::min(url.find_first_of("/?#", begin), url.size());
  const auto at = url.substr(begin, end - begin).rfind('@');
  if (at == std::string_view::npos) {
    return std::string(url);
  }
  return std::string(url.substr(0, begin)) + "***" + std::string(url.substr(begin + at));
}

std::optional<std::string> host_pattern_problem(std::string_view pattern) {
  if (pattern.empty()) {
    return "must not be empty";
  }
  const bool ok = std::all_of(pattern.begin(), pattern.end(), [](char c) {
    return is_alnum(c) || c == '.' || c == '-' || c == '_' || c == '*';
  });
  if (!ok) {
    return "expected a host name pattern such as *.oraclecloud.com (no scheme, port or path)";
  }
  return std::nullopt;
}

}  // namespace ocirelay::config::detail
