#include <catch2/catch.hpp>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/ingress/authenticator.hpp"

#include <vector>

using ocirelay::base64_decode;
using ocirelay::base64_encode;
using ocirelay::config::IngressAuth;
using ocirelay::ingress::Authenticator;

namespace {
std::string basic(const std::string& up) { return "Basic " + base64_encode(up); }
}  // namespace

TEST_CASE("no ingress auth configured lets everything through", "[auth]") {
  Authenticator a(std::nullopt);
  CHECK_FALSE(a.enabled());
  CHECK(a.allows(std::nullopt));
}

TEST_CASE("Basic credentials and bearer tokens are checked", "[auth]") {
  IngressAuth cfg;
  cfg.basic.push_back({"ons", "change-me"});
  cfg.basic.push_back({"other", "p:with:colons"});
  cfg.bearer_tokens.push_back("tok-123");
  Authenticator a(cfg);
  CHECK(a.enabled());
  CHECK(a.allows(basic("ons:change-me")));
  CHECK(a.allows(std::string("basic ") + base64_encode("ons:change-me")));
  CHECK(a.allows(basic("other:p:with:colons")));
  CHECK(a.allows(std::string("Bearer tok-123")));
  // The ONS fixture's header: ons / change-me.
  CHECK(a.allows(std::string("Basic b25zOmNoYW5nZS1tZQ==")));

  CHECK_FALSE(a.allows(std::nullopt));
  CHECK_FALSE(a.allows(std::string("")));
  CHECK_FALSE(a.allows(basic("ons:change-mE")));
  CHECK_FALSE(a.allows(basic("ons:")));
  CHECK_FALSE(a.allows(basic("ons")));
  CHECK_FALSE(a.allows(basic("other:change-me")));
  CHECK_FALSE(a.allows(std::string("Basic !!notbase64")));
  CHECK_FALSE(a.allows(std::string("Bearer tok-1234")));
  CHECK_FALSE(a.allows(std::string("Bearer ") + base64_encode("ons:change-me")));
  CHECK_FALSE(a.allows(std::string("Digest ons")));
  CHECK_FALSE(a.allows(std::string("tok-123")));
}

TEST_CASE("base64 round-trips and rejects garbage", "[auth]") {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "ons:change-me", std::string("\0\xff", 2)}) {
    auto d = base64_decode(base64_encode(s));
    REQUIRE(d);
    CHECK(*d == s);
  }
  CHECK_FALSE(base64_decode("abc"));
  CHECK_FALSE(base64_decode("ab c"));
  CHECK_FALSE(base64_decode("a$==" ));
}
