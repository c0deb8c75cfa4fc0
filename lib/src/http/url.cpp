#include "ocirelay/http/url.hpp"

#include <charconv>

#include <arpa/inet.h>

namespace ocirelay::http {

namespace {

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

bool valid_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

}  // namespace

bool is_ip_literal(std::string_view host) {
  std::string h(host);
  unsigned char buf[16];
  return ::inet_pton(AF_INET, h.c_str(), buf) == 1 || ::inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

std::string Url::host_header() const {
  // Appended piece by piece: GCC 12 at -O3 misreads a temporary
  // concatenation here as an out-of-bounds copy (-Wstringop-overflow).
  std::string out;
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  if (port != (tls ? 443 : 80)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::string Url::origin() const {
  std::string out = tls ? "https://" : "http://";
  out += host_header();
  return out;
}

std::string Url::redacted() const {
  auto q = target.find('?');
  return origin() + (q == std::string::npos ? target : target.substr(0, q) + "?...");
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest;
  if (starts_with_ci(text, "https://")) {
    url.tls = true;
    rest = text.substr(8);
  } else if (starts_with_ci(text, "http://")) {
    rest = text.substr(7);
  } else {
    return fail("URL must start with http:// or https://");
  }
  if (auto hash = rest.find('#'); hash != std::string_view::npos) {
    rest = rest.substr(0, hash);
  }
  const auto path_start = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, path_start);
  url.target = path_start == std::string_view::npos ? "/" : std::string(rest.substr(path_start));
  if (url.target.front() == '?') {
    url.target.insert(url.target.begin(), '/');
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    url.has_userinfo = true;
    authority = authority.substr(at + 1);
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return fail("URL has an unterminated IPv6 address");
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("URL has garbage after the IPv6 address");
      port_text = after.substr(1);
    }
    if (!is_ip_literal(url.host)) return fail("URL has an invalid IPv6 address");
  } else {
    auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
    }
    for (char c : url.host) {
      if (!valid_host_char(c)) return fail("URL host has an invalid character");
    }
  }
  if (url.host.empty()) {
    return fail("URL has no host");
  }
  url.port = url.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return fail("URL has an invalid port");
    }
    url.port = static_cast<std::uint16_t>(value);
  }
  for (char c : url.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return fail("URL path contains spaces or control characters");
    }
  }
  return url;
}

}  // namespace ocirelay::http
