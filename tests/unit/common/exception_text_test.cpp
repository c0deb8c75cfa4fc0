#include "ocirelay/common/exception_text.hpp"

#include <stdexcept>

#include <catch2/catch.hpp>

using ocirelay::exception_text;

TEST_CASE("exception_text gives what() of a standard exception", "[common]") {
  CHECK(exception_text(std::make_exception_ptr(std::runtime_error("disk on fire"))) ==
        "disk on fire");
  CHECK(exception_text(std::make_exception_ptr(std::out_of_range("index 7"))) == "index 7");
}

TEST_CASE("exception_text names an exception of another type, and a null pointer", "[common]") {
  CHECK(exception_text(std::make_exception_ptr(42)) == "an exception of unknown type");
  CHECK(exception_text(std::exception_ptr{}) == "no exception");
}
