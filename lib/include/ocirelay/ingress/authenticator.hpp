// Checks the Authorization header of ingress requests against the configured
// Basic credentials and bearer tokens. Comparisons take the same time however
// much of a secret matches: both sides are hashed (SHA-256) and the digests
// compared with CRYPTO_memcmp, and every configured secret is checked.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/config/config.hpp"

namespace ocirelay::ingress {

class Authenticator {
 public:
  // No auth configured: every request passes.
  explicit Authenticator(const std::optional<config::IngressAuth>& auth);

  bool enabled() const noexcept { return enabled_; }
  bool allows(std::optional<std::string_view> authorization) const;

 private:
  using Digest = std::array<unsigned char, 32>;
  static Digest digest(std::string_view text);

  bool enabled_ = false;
  std::vector<Digest> basic_;   // digests of "user:password"
  std::vector<Digest> bearer_;  // digests of tokens
};

}  // namespace ocirelay::ingress
