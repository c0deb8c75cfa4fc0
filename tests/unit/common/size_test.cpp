#include <catch2/catch.hpp>

#include "ocirelay/common/size.hpp"

using ocirelay::format_size;
using ocirelay::parse_size;

TEST_CASE("sizes parse as bytes or with a binary unit", "[size]") {
  CHECK(parse_size("0") == 0u);
  CHECK(parse_size("1048576") == 1048576u);
  CHECK(parse_size("512B") == 512u);
  CHECK(parse_size("512KiB") == 512u * 1024);
  CHECK(parse_size("512K") == 512u * 1024);
  CHECK(parse_size("64MiB") == 64u * 1024 * 1024);
  CHECK(parse_size("500MB") == 500ull * 1024 * 1024);  // binary, as documented
  CHECK(parse_size("2GiB") == 2ull << 30);
  CHECK(parse_size("2G") == 2ull << 30);
  CHECK(parse_size("1TiB") == 1ull << 40);
  CHECK(parse_size("16777215TiB") == 16777215ull << 40);
}

TEST_CASE("malformed sizes are rejected", "[size]") {
  for (const char* bad :
       {"", "MiB", "-1", "+5", "1.5GiB", "64 MiB", " 64MiB", "64MiB ", "64mib", "64Mi", "64MIB",
        "64iB", "10x", "64MiBs", "16777216TiB", "99999999999999999999", "18446744073709551616"}) {
    INFO("input: '" << bad << "'");
    CHECK_FALSE(parse_size(bad).has_value());
  }
  CHECK(parse_size("18446744073709551615") == 18446744073709551615ull);
}

TEST_CASE("sizes format in their largest unit, rounded down to a tenth", "[size]") {
  CHECK(format_size(0) == "0B");
  CHECK(format_size(1023) == "1023B");
  CHECK(format_size(1024) == "1KiB");
  CHECK(format_size(64ull << 20) == "64MiB");
  CHECK(format_size((3ull << 20) + (1ull << 20) * 95 / 100) == "3.9MiB");
  CHECK(format_size((1ull << 30) + (1ull << 29)) == "1.5GiB");
  CHECK(format_size((2ull << 30) - 1) == "1.9GiB");
  CHECK(format_size(5ull << 40) == "5TiB");
  CHECK(format_size(18446744073709551615ull) == "16777215.9TiB");
  for (const char* text : {"1KiB", "64MiB", "2GiB", "7TiB"}) {
    CHECK(format_size(*parse_size(text)) == text);
  }
}
