#include "ocirelay/common/oci_request_signer.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <optional>

namespace ocirelay {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

std::optional<std::string_view> find_header(std::span<const HeaderField> headers,
                                            std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (same_name(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

// POST and PUT carry a body, whose length, type and hash are signed.
bool signs_body(std::string_view method) {
  return same_name(method, "POST") || same_name(method, "PUT");
}

void add_line(OciSigningString& out, std::string_view name, std::string_view value) {
  if (!out.headers.empty()) {
    out.headers += ' ';
    out.text += '\n';
  }
  out.headers += name;
  out.text += name;
  out.text += ": ";
  out.text += value;
}

}  // namespace

OciRequestSigner::OciRequestSigner(std::string key_id, OciPrivateKey key)
    : key_id_(std::move(key_id)), key_(std::move(key)) {}

Result<OciSigningString> OciRequestSigner::signing_string(const OciRequest& request) {
  const auto date = find_header(request.headers, "date");
  if (!date) return fail("the request has no date header to sign");
  if (request.method.empty() || request.target.empty() || request.host.empty()) {
    return fail("the request has no method, target or host to sign");
  }
  OciSigningString out;
  add_line(out, "date", *date);
  add_line(out, "(request-target)", lowercase(request.method) + " " + std::string(request.target));
  add_line(out, "host", request.host);
  if (signs_body(request.method)) {
    const auto type = find_header(request.headers, "content-type");
    if (!type)
      return fail("a " + std::string(request.method) + " request to sign needs a content-type");
    const auto length = find_header(request.headers, "content-length");
    const auto hash = find_header(request.headers, "x-content-sha256");
    add_line(out, "content-length",
             length ? std::string(*length) : std::to_string(request.body.size()));
    add_line(out, "content-type", *type);
    add_line(out, "x-content-sha256", hash ? std::string(*hash) : sha256_base64(request.body));
  }
  return out;
}

Result<std::vector<HeaderField>> OciRequestSigner::sign(
    const OciRequest& request, std::chrono::system_clock::time_point now) const {
  std::vector<HeaderField> added;
  if (!find_header(request.headers, "date")) added.emplace_back("date", http_date(now));
  if (signs_body(request.method) && !find_header(request.headers, "x-content-sha256")) {
    added.emplace_back("x-content-sha256", sha256_base64(request.body));
  }
  std::vector<HeaderField> all(request.headers.begin(), request.headers.end());
  all.insert(all.end(), added.begin(), added.end());
  OciRequest complete = request;
  complete.headers = all;
  auto signing = signing_string(complete);
  if (!signing) return fail(std::move(signing).error());
  auto signature = key_.sign_sha256(signing->text);
  if (!signature) return fail(std::move(signature).error());
  added.emplace_back("authorization", "Signature version=\"1\",headers=\"" + signing->headers +
                                          "\",keyId=\"" + key_id_ +
                                          "\",algorithm=\"rsa-sha256\",signature=\"" +
                                          signature.value() + "\"");
  return added;
}

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986: unreserved, sub-delims, and the ':' '@' '/' '?' of paths and queries.
bool target_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@/?").find(c) != std::string_view::npos;
}

}  // namespace

std::string oci_request_target(std::string_view target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.size());
  for (std::size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (target_char(c) ||
        (c == '%' && i + 2 < target.size() && is_hex(target[i + 1]) && is_hex(target[i + 2]))) {
      out += c;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    out += '%';
    out += kHex[u >> 4];
    out += kHex[u & 0x0f];
  }
  return out;
}

std::string http_date(std::chrono::system_clock::time_point t) {
  static constexpr std::array<const char*, 7> kDays{"Sun", "Mon", "Tue", "Wed",
                                                    "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 40> buf{};
  std::snprintf(buf.data(), buf.size(), "%s, %02d %s %04d %02d:%02d:%02d GMT",
                kDays.at(static_cast<std::size_t>(tm.tm_wday)), tm.tm_mday,
                kMonths.at(static_cast<std::size_t>(tm.tm_mon)), tm.tm_year + 1900, tm.tm_hour,
                tm.tm_min, tm.tm_sec);
  return buf.data();
}

}  // namespace ocirelay
