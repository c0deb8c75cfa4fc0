#include <catch2/catch.hpp>

#include "ocirelay/common/duration.hpp"

using ocirelay::Duration;
using ocirelay::format_duration;
using ocirelay::parse_duration;
using namespace std::chrono_literals;

TEST_CASE("durations parse in every unit", "[duration]") {
  CHECK(parse_duration("250ms") == Duration(250));
  CHECK(parse_duration("30s") == Duration(30s));
  CHECK(parse_duration("5m") == Duration(5min));
  CHECK(parse_duration("72h") == Duration(72h));
  CHECK(parse_duration("7d") == Duration(7 * 24h));
  CHECK(parse_duration("0s") == Duration(0));
}

TEST_CASE("malformed durations are rejected", "[duration]") {
  for (const char* bad : {"", "s", "30", "-5s", "5 s", "5S", "1.5s", "5sec", "ms", "10x",
                          "99999999999999999999s", "9223372036854775807h", " 5s", "5s "}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(parse_duration(bad).has_value());
  }
}

TEST_CASE("durations format in their largest exact unit", "[duration]") {
  CHECK(format_duration(Duration(250)) == "250ms");
  CHECK(format_duration(Duration(1500)) == "1500ms");
  CHECK(format_duration(Duration(30s)) == "30s");
  CHECK(format_duration(Duration(120s)) == "2m");
  CHECK(format_duration(Duration(72h)) == "3d");
  CHECK(format_duration(Duration(0)) == "0s");
  for (const char* text : {"250ms", "30s", "5m", "72h", "7d"}) {
    CHECK(format_duration(*parse_duration(text)) == (std::string(text) == "72h" ? "3d" : text));
  }
}
