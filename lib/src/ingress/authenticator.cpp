#include "ocirelay/ingress/authenticator.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/http/message.hpp"

namespace ocirelay::ingress {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

Authenticator::Digest Authenticator::digest(std::string_view text) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d.data());
  return d;
}

Authenticator::Authenticator(const std::optional<config::IngressAuth>& auth) {
  if (!auth) return;
  enabled_ = true;
  for (const auto& cred : auth->basic) {
    basic_.push_back(digest(cred.username + ":" + cred.password));
  }
  for (const auto& token : auth->bearer_tokens) {
    bearer_.push_back(digest(token));
  }
}

bool Authenticator::allows(std::optional<std::string_view> authorization) const {
  if (!enabled_) return true;
  if (!authorization) return false;
  std::string_view value = trim(*authorization);
  const auto space = value.find(' ');
  if (space == std::string_view::npos) return false;
  const std::string_view scheme = value.substr(0, space);
  const std::string_view credentials = trim(value.substr(space + 1));

  const std::vector<Digest>* candidates = nullptr;
  Digest presented{};
  if (http::iequals(scheme, "Basic")) {
    auto decoded = base64_decode(credentials);
    if (!decoded) return false;
    presented = digest(*decoded);
    candidates = &basic_;
  } else if (http::iequals(scheme, "Bearer")) {
    presented = digest(credentials);
    candidates = &bearer_;
  } else {
    return false;
  }
  bool match = false;
  for (const auto& expected : *candidates) {
    match |= CRYPTO_memcmp(expected.data(), presented.data(), presented.size()) == 0;
  }
  return match;
}

}  // namespace ocirelay::ingress
