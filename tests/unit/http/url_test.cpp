#include <catch2/catch.hpp>

#include "ocirelay/http/url.hpp"

using ocirelay::http::is_ip_literal;
using ocirelay::http::parse_url;

TEST_CASE("URLs split into scheme, host, port and target", "[url]") {
  auto u = parse_url(
      "https://oic.example.com/ic/api/integration/v1/flows/rest/INVOICES/1.0/event?x=1");
  REQUIRE(u);
  CHECK(u->tls);
  CHECK(u->host == "oic.example.com");
  CHECK(u->port == 443);
  CHECK(u->target == "/ic/api/integration/v1/flows/rest/INVOICES/1.0/event?x=1");
  CHECK(u->redacted() == "https://oic.example.com/ic/api/integration/v1/flows/rest/INVOICES/1.0/event?...");

  auto plain = parse_url("http://127.0.0.1:8081");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls);
  CHECK(plain->port == 8081);
  CHECK(plain->target == "/");
  CHECK(plain->origin() == "http://127.0.0.1:8081");

  auto v6 = parse_url("https://[::1]:9443/x#frag");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 9443);
  CHECK(v6->target == "/x");
  CHECK(v6->origin() == "https://[::1]:9443");

  auto query_only = parse_url("HTTPS://Host.example?q");
  REQUIRE(query_only);
  CHECK(query_only->target == "/?q");
}

TEST_CASE("credentials in a URL are flagged and never kept", "[url]") {
  auto u = parse_url("https://user:secret@oic.example.com/flow");
  REQUIRE(u);
  CHECK(u->has_userinfo);
  CHECK(u->host == "oic.example.com");
  CHECK(u->redacted().find("secret") == std::string::npos);
}

TEST_CASE("malformed URLs are rejected with a reason", "[url]") {
  for (const char* bad : {"ftp://x/", "oic.example.com/flow", "https://", "https:///path",
                          "https://host:0/", "https://host:70000/", "https://host:12ab/",
                          "https://[::1/", "https://[nothex]/", "https://ho st/",
                          "https://host/pa th", "https://host/\x01"}) {
    INFO(bad);
    auto u = parse_url(bad);
    CHECK_FALSE(u);
    if (!u) CHECK_FALSE(u.error().empty());
  }
}

TEST_CASE("IP literals are recognised", "[url]") {
  CHECK(is_ip_literal("127.0.0.1"));
  CHECK(is_ip_literal("::1"));
  CHECK(is_ip_literal("fe80::1"));
  CHECK_FALSE(is_ip_literal("localhost"));
  CHECK_FALSE(is_ip_literal("127.0.0.1.example.com"));
  CHECK_FALSE(is_ip_literal("256.1.1.1"));
}
