#include <catch2/catch.hpp>

#include "ocirelay/http/message.hpp"

using namespace ocirelay::http;

TEST_CASE("header lookups ignore case and set replaces every field", "[message]") {
  Headers h;
  h.add("Content-Type", "application/json");
  h.add("X-Multi", "a");
  h.add("x-multi", "b");
  CHECK(h.get("content-type") == "application/json");
  CHECK(h.get("X-MULTI") == "a");
  CHECK_FALSE(h.get("Authorization"));
  h.set("X-Multi", "c");
  CHECK(h.get("x-multi") == "c");
  CHECK(h.fields().size() == 2);
}

TEST_CASE("error responses are JSON with the reason escaped", "[message]") {
  auto r = error_response(400, "bad \"thing\"\n\x01");
  CHECK(r.status == 400);
  CHECK(r.headers.get("Content-Type") == "application/json");
  CHECK(r.body == R"({"error":"bad \"thing\"\n\u0001"})");
}

TEST_CASE("iequals compares ASCII case-insensitively", "[message]") {
  CHECK(iequals("Basic", "bASIC"));
  CHECK_FALSE(iequals("Basic", "Basic "));
}
