#include "ocirelay/http/message.hpp"

#include <algorithm>

#include "ocirelay/common/json_escape.hpp"

namespace ocirelay::http {

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) {
      return false;
    }
  }
  return true;
}

void Headers::add(std::string name, std::string value) {
  f_.emplace_back(std::move(name), std::move(value));
}

void Headers::set(std::string name, std::string value) {
  std::erase_if(f_, [&](const auto& f) { return iequals(f.first, name); });
  f_.emplace_back(std::move(name), std::move(value));
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (const auto& [n, v] : f_) {
    if (iequals(n, name)) {
      return std::string_view(v);
    }
  }
  return std::nullopt;
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response error_response(int status, std::string_view message) {
  return json_response(status, "{\"error\":\"" + json_escape(message) + "\"}");
}

Response method_not_allowed(std::string_view allow) {
  Response r = error_response(405, "method not allowed; use " + std::string(allow));
  r.headers.set("Allow", std::string(allow));
  return r;
}

std::string_view target_path(std::string_view target) noexcept {
  return target.substr(0, target.find('?'));
}

}  // namespace ocirelay::http
