// The listen-address and URL checks on their own (their use in the loader is
// tested in loader_errors_test.cpp).
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <string_view>

#include "config/net_checks.hpp"
#include "config/schema_walker.hpp"

using namespace ocirelay::config::detail;

TEST_CASE("listen addresses parse into host and port", "[net_checks]") {
  auto a = parse_listen_address("[2001:db8::1]:443");
  REQUIRE(a.ok());
  CHECK(a->host == "2001:db8::1");
  CHECK(a->port == 443);
  auto b = parse_listen_address("relay.:8080");  // fully qualified name
  REQUIRE(b.ok());
  CHECK(b->host == "relay.");
  CHECK_FALSE(parse_listen_address("").ok());
  CHECK_FALSE(parse_listen_address("[]:1").ok());
  CHECK_FALSE(parse_listen_address("a..b:1").ok());
  CHECK_FALSE(parse_listen_address("h:123456").ok());
  CHECK_FALSE(parse_listen_address("h:+1").ok());
  CHECK_FALSE(parse_listen_address("[::]:").ok());
  CHECK_FALSE(parse_listen_address("[::]:1x").ok());
}

TEST_CASE("URLs: scheme, host, port, no credentials", "[net_checks]") {
  CHECK_FALSE(url_problem("https://oic.example.com/ic/api/integration/v1/flows/rest/X/1.0/e"));
  CHECK_FALSE(url_problem("http://127.0.0.1:8081"));
  CHECK_FALSE(url_problem("https://h?x=@y"));  // '@' after the authority is data
  CHECK(url_problem("https://u@h/"));
  CHECK(url_problem("https://h:/"));
  CHECK(url_problem("https://h:65536/"));
  CHECK(url_problem("https://[::1]x/"));
  CHECK(url_problem("https://h\t/"));
  // Link-local addresses, however written, are the metadata service's only.
  for (const char* url :
       {"http://169.254.169.254/opc/v2", "https://169.254.0.1:8443/x", "https://[fe80::1]/",
        "https://[FE80::1]:443/", "https://[febf::1]/", "https://[::ffff:169.254.169.254]/",
        // as the resolver reads them, and the metadata service's IPv6 addresses
        "http://0xa9fea9fe/", "http://2852039166/", "http://169.254.43518/",
        "http://0251.0376.0251.0376/", "http://[fd00:c1::a9fe:a9fe]/",
        "http://[64:ff9b::a9fe:a9fe]/"}) {
    INFO(url);
    const auto problem = url_problem(url);
    REQUIRE(problem);
    CHECK(problem->find("link-local") != std::string::npos);
  }
  CHECK_FALSE(url_problem("https://169.255.0.1/"));
  CHECK_FALSE(url_problem("https://[fec0::1]/"));
  CHECK_FALSE(url_problem("https://169.254.example.com/"));  // a name: checked when resolved
}

TEST_CASE("userinfo is redacted for quoting", "[net_checks]") {
  CHECK(redact_userinfo("https://u:p@h/x") == "https://***@h/x");
  CHECK(redact_userinfo("https://h/x@y") == "https://h/x@y");
  CHECK(redact_userinfo("ftp://a:b@c") == "ftp://***@c");
  CHECK(redact_userinfo("a:b@c/d") == "***@c/d");
  CHECK(redact_userinfo("https://a@b@c/") == "https://***@c/");
  CHECK(redact_userinfo("plain") == "plain");
}

TEST_CASE("host patterns", "[net_checks]") {
  CHECK_FALSE(host_pattern_problem("*.oraclecloud.com"));
  CHECK_FALSE(host_pattern_problem("notification.*.oci.oraclecloud.com"));
  CHECK(host_pattern_problem(""));
  CHECK(host_pattern_problem("*.oraclecloud.com:443"));
  CHECK(host_pattern_problem("https://x"));
}

TEST_CASE("quoting escapes control characters and cuts long values", "[net_checks]") {
  CHECK(quote("a\nb\t\x01") == "'a\\nb\\t\\x01'");
  const std::string long_text(500, 'x');
  CHECK(quote(long_text).size() < 130);
  CHECK_THAT(quote(long_text), Catch::EndsWith("...'"));
}

TEST_CASE("closest_match suggests only plausible typos", "[net_checks]") {
  const std::array<std::string_view, 3> keys{"listen", "max_body_bytes", "dedupe_window"};
  CHECK(closest_match("lsiten", keys) == "listen");
  CHECK(closest_match("MaxBodyBytes", keys) == "max_body_bytes");
  CHECK(closest_match("max-body-bytes", keys) == "max_body_bytes");
  CHECK(closest_match("dedupe", keys) == "dedupe_window");
  CHECK(closest_match("zzz", keys).empty());
  CHECK(closest_match("lis", keys).empty());
}
