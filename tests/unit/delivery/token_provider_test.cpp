// TokenProvider against a scripted token endpoint (an in-process transport)
// and a fake clock: the request it sends, caching until expiry minus the
// margin, one request for any number of waiting callers, backoff after
// failures, invalidation, and no secret in any error.
#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/delivery/token_provider.hpp"
#include "ocirelay/log/logging.hpp"
#include "support/fixtures.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using http::ClientError;
using http::ClientResponse;

namespace {

using Answer = Result<ClientResponse, ClientError>;

constexpr const char* kSecret = "s3cr3t-V4lue";
constexpr const char* kScope = "https://oic.example.com:443urn:opc:resource:consumer::all";

Answer ok_token(const std::string& token, int expires_in = 3600) {
  return ClientResponse{200,
                        {},
                        R"({"access_token":")" + token +
                            R"(","token_type":"Bearer","expires_in":)" +
                            std::to_string(expires_in) + "}"};
}

Answer status(int code, std::string body = {}) { return ClientResponse{code, {}, std::move(body)}; }

// A token endpoint and a clock under the test's control.
struct Idp {
  asio::io_context io;
  std::vector<http::ClientRequest> requests;
  std::function<Answer(std::size_t index)> answer = [](std::size_t i) {
    return ok_token("token-" + std::to_string(i));
  };
  Duration latency{0};
  TokenProvider::Clock::time_point now = TokenProvider::Clock::time_point{} + 1000h;
  std::unique_ptr<TokenProvider> provider;

  Idp() {
    TokenProvider::Options options;
    options.destination = "oic";
    options.endpoint = "https://idcs.example.com/oauth2/v1/token";
    options.client_id = "client-id";
    options.client_secret = kSecret;
    options.scope = kScope;
    options.now = [this] { return now; };
    provider = std::make_unique<TokenProvider>(
        std::move(options),
        [this](http::ClientRequest r) -> asio::awaitable<Answer> {
          requests.push_back(std::move(r));
          const std::size_t index = requests.size() - 1;
          if (latency.count() > 0) {
            asio::steady_timer t(io);
            t.expires_after(latency);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          co_return answer(index);
        },
        log::stderr_logger("token-test", "error"), io.get_executor());
  }

  // Runs n token() calls at once to completion.
  std::vector<Result<std::string>> tokens(std::size_t n) {
    std::vector<std::optional<Result<std::string>>> out(n);
    for (std::size_t i = 0; i < n; ++i) {
      asio::co_spawn(
          io,
          [this, &out, i]() -> asio::awaitable<void> {
            out[i].emplace(co_await provider->token());
          },
          [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
    }
    io.restart();
    io.run();
    std::vector<Result<std::string>> results;
    for (auto& r : out) {
      REQUIRE(r.has_value());
      results.push_back(std::move(*r));
    }
    return results;
  }

  Result<std::string> token() { return tokens(1).at(0); }

  std::string value() {
    auto t = token();
    INFO((t.ok() ? std::string() : t.error()));
    REQUIRE(t.ok());
    return t.value();
  }
};

}  // namespace

TEST_CASE("the token request is OAuth2 client credentials as OCI IAM expects", "[token]") {
  Idp idp;
  const std::string fixture = test::fixture("oic/token-response.json");
  idp.answer = [&](std::size_t) { return Answer(ClientResponse{200, {}, fixture}); };
  CHECK(idp.value() ==
        "eyJraWQiOiJleGFtcGxlIiwiYWxnIjoiUlMyNTYifQ.eyJzdWIiOiJyZWxheS1jbGllbnQiLCJleHAiOjQxMDI0"
        "NDQ4MDB9.c2lnbmF0dXJl");
  REQUIRE(idp.requests.size() == 1);
  const auto& r = idp.requests[0];
  CHECK(r.method == "POST");
  CHECK(r.target.empty());  // the token URL's own path
  CHECK(r.headers.get("Authorization") ==
        "Basic " + base64_encode(std::string("client-id:") + kSecret));
  CHECK(r.headers.get("Content-Type") == "application/x-www-form-urlencoded");
  CHECK(r.body ==
        "grant_type=client_credentials&scope="
        "https%3A%2F%2Foic.example.com%3A443urn%3Aopc%3Aresource%3Aconsumer%3A%3Aall");
  CHECK(idp.provider->requests_sent() == 1);
}

TEST_CASE("form values are percent-encoded", "[token]") {
  CHECK(form_url_encode("") == "");
  CHECK(form_url_encode("aZ09-._~") == "aZ09-._~");
  CHECK(form_url_encode("a b&c=d+e/f") == "a%20b%26c%3Dd%2Be%2Ff");
  CHECK(form_url_encode("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("a token is cached until expires_in minus the margin", "[token]") {
  Idp idp;
  SECTION("an hour: a margin of 60 s") {
    CHECK(idp.value() == "token-0");
    idp.now += 3539s;
    CHECK(idp.value() == "token-0");
    CHECK(idp.requests.size() == 1);
    idp.now += 2s;  // 3541 s: inside the last minute
    CHECK(idp.value() == "token-1");
    CHECK(idp.requests.size() == 2);
  }
  SECTION("short lifetimes: a tenth of it") {
    idp.answer = [](std::size_t i) { return ok_token("short-" + std::to_string(i), 100); };
    CHECK(idp.value() == "short-0");
    idp.now += 89s;
    CHECK(idp.value() == "short-0");
    idp.now += 2s;  // 91 s
    CHECK(idp.value() == "short-1");
  }
  SECTION("expires_in may be a string; absent means an hour") {
    idp.answer = [](std::size_t i) {
      return i == 0 ? Answer(ClientResponse{200, {}, R"({"access_token":"a","expires_in":"20"})"})
                    : Answer(ClientResponse{200, {}, R"({"access_token":"b"})"});
    };
    CHECK(idp.value() == "a");
    idp.now += 19s;
    CHECK(idp.value() == "b");
    idp.now += 3500s;
    CHECK(idp.value() == "b");
    CHECK(idp.requests.size() == 2);
  }
}

TEST_CASE("one token request however many callers wait for it", "[token]") {
  Idp idp;
  idp.latency = 50ms;
  SECTION("success") {
    const auto results = idp.tokens(300);
    CHECK(idp.requests.size() == 1);
    for (const auto& r : results) {
      REQUIRE(r.ok());
      CHECK(r.value() == "token-0");
    }
  }
  SECTION("failure: every waiter gets the same error") {
    idp.answer = [](std::size_t) { return status(503); };
    const auto results = idp.tokens(300);
    CHECK(idp.requests.size() == 1);
    for (const auto& r : results) {
      REQUIRE_FALSE(r.ok());
      CHECK_THAT(r.error(), Catch::Contains("HTTP 503"));
    }
  }
}

TEST_CASE("token endpoint errors are short and free of secrets", "[token]") {
  struct Case {
    Answer answer;
    std::string expected;
  };
  const std::vector<Case> cases{
      {status(401,
              R"({"error":"invalid_client","error_description":"Client authentication failed"})"),
       "HTTP 401 (invalid_client: Client authentication failed)"},
      {status(400, "<html>" + std::string(kSecret) + "</html>"), "HTTP 400"},
      {status(200, std::string("{\"access_token\": \"") + kSecret), "not a JSON object"},
      {status(200, R"({"token_type":"Bearer","expires_in":3600})"), "no usable access_token"},
      {status(200, R"({"access_token":""})"), "no usable access_token"},
      {status(200, R"({"access_token":"has space"})"), "no usable access_token"},
      {status(200, R"({"access_token":"t","token_type":"mac"})"), "token_type is not Bearer"},
      {status(200, R"({"access_token":"t","expires_in":0})"), "bad expires_in"},
      {status(200, R"({"access_token":"t","expires_in":"soon"})"), "bad expires_in"},
      {Answer(fail(ClientError{ClientError::Kind::connect, "cannot connect to idcs:443"})),
       "cannot connect to idcs:443"},
  };
  for (const auto& c : cases) {
    Idp idp;
    idp.answer = [&](std::size_t) { return c.answer; };
    const auto r = idp.token();
    REQUIRE_FALSE(r.ok());
    INFO(r.error());
    CHECK_THAT(r.error(), Catch::Contains(c.expected));
    CHECK_THAT(r.error(),
               Catch::StartsWith("token endpoint https://idcs.example.com/oauth2/v1/token: "));
    CHECK_THAT(r.error(), !Catch::Contains(kSecret));
    CHECK_THAT(r.error(), !Catch::Contains(base64_encode(std::string("client-id:") + kSecret)));
  }
}

TEST_CASE("failures back off: no token request while backing off", "[token]") {
  Idp idp;
  bool up = false;
  idp.answer = [&](std::size_t i) {
    return up ? ok_token("after-" + std::to_string(i)) : status(503);
  };

  const auto first = idp.token();
  REQUIRE_FALSE(first.ok());
  CHECK(idp.requests.size() == 1);
  // Fails fast with the same error, many times, without asking again.
  for (const auto& r : idp.tokens(100)) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == first.error());
  }
  CHECK(idp.requests.size() == 1);
  // First pause: 0.5 s to 1 s.
  idp.now += 499ms;
  CHECK_FALSE(idp.token().ok());
  CHECK(idp.requests.size() == 1);
  idp.now += 501ms;
  CHECK_FALSE(idp.token().ok());
  CHECK(idp.requests.size() == 2);
  // Second pause: 1 s to 2 s.
  idp.now += 999ms;
  CHECK_FALSE(idp.token().ok());
  CHECK(idp.requests.size() == 2);
  idp.now += 1001ms;
  up = true;
  CHECK(idp.value() == "after-2");
  CHECK(idp.requests.size() == 3);
}

TEST_CASE("a long outage costs few token requests", "[token]") {
  Idp idp;
  idp.answer = [](std::size_t) { return status(503); };
  // A caller every 100 ms for two minutes: 1200 calls.
  for (int i = 0; i < 1200; ++i) {
    CHECK_FALSE(idp.token().ok());
    idp.now += 100ms;
  }
  // Pauses of at least 0.5, 1, 2, 4, 8, 16, 30, 30, 30 s...
  CHECK(idp.requests.size() >= 5);
  CHECK(idp.requests.size() <= 10);
}

TEST_CASE("a token in its margin is still used while a refresh fails", "[token]") {
  Idp idp;
  bool up = true;
  idp.answer = [&](std::size_t i) {
    return up ? ok_token("t" + std::to_string(i), 100) : status(503);
  };
  CHECK(idp.value() == "t0");
  up = false;
  idp.now += 95s;  // past the refresh point (90 s), before expiry (100 s)
  CHECK(idp.value() == "t0");
  CHECK(idp.requests.size() == 2);
  CHECK(idp.value() == "t0");  // backing off: no request
  CHECK(idp.requests.size() == 2);
  idp.now += 6s;  // expired
  CHECK_FALSE(idp.token().ok());
  CHECK(idp.requests.size() == 3);
}

TEST_CASE("invalidate drops only the current token", "[token]") {
  Idp idp;
  CHECK(idp.value() == "token-0");
  idp.provider->invalidate("some-older-token");
  CHECK(idp.value() == "token-0");
  CHECK(idp.requests.size() == 1);
  idp.now += 40s;
  idp.provider->invalidate("token-0");
  CHECK(idp.value() == "token-1");
  CHECK(idp.requests.size() == 2);
  idp.provider->invalidate("token-0");  // late 401s for the old one change nothing
  CHECK(idp.value() == "token-1");
  CHECK(idp.requests.size() == 2);
}

TEST_CASE("fresh tokens rejected again and again back off", "[token]") {
  Idp idp;
  CHECK(idp.value() == "token-0");
  idp.provider->invalidate("token-0");
  CHECK(idp.value() == "token-1");  // one rejection: fetched again at once
  idp.provider->invalidate("token-1");
  const auto r = idp.token();  // the second fresh one rejected: back off
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error(), Catch::Contains("rejected 2 fresh tokens"));
  CHECK(idp.requests.size() == 2);
  idp.now += 1s;
  CHECK(idp.value() == "token-2");
  idp.provider->invalidate("token-2");
  CHECK_FALSE(idp.token().ok());
  idp.now += 999ms;  // the pause has grown to 1..2 s
  CHECK_FALSE(idp.token().ok());
  CHECK(idp.requests.size() == 3);
  idp.now += 1001ms;
  CHECK(idp.value() == "token-3");
  // Used for a while: the next rejection is forgiven again.
  idp.now += 31s;
  CHECK(idp.value() == "token-3");
  idp.provider->invalidate("token-3");
  CHECK(idp.value() == "token-4");
}
