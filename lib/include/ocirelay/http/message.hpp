// HTTP messages as the rest of the code sees them: plain value types, free of
// Boost.Beast, so handlers and tests compile without it. The server and
// client translate to and from Beast's types in their own sources.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ocirelay::http {

// Header fields in arrival order; lookups ignore case.
class Headers {
 public:
  void add(std::string name, std::string value);
  // Replaces every field of that name with one.
  void set(std::string name, std::string value);
  std::optional<std::string_view> get(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const noexcept { return f_; }

 private:
  std::vector<std::pair<std::string, std::string>> f_;
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query as received
  Headers headers;
  std::string body;
  std::string remote;      // "ip:port" of the peer
  std::string request_id;  // assigned by the server, for logs
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  bool close = false;  // close the connection after this response
};

// A response with `Content-Type: application/json` and this body.
Response json_response(int status, std::string body);
// {"error": message} with the given status.
Response error_response(int status, std::string_view message);
// 405 with `Allow: <allow>` ("POST", "GET, HEAD") and an error body naming it.
Response method_not_allowed(std::string_view allow);

// The path of a request target: everything before the query ("/metrics?x=1"
// -> "/metrics").
std::string_view target_path(std::string_view target) noexcept;

// Case-insensitive ASCII comparison.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace ocirelay::http
