// request_framing_problem(): RFC 9112's Host and Transfer-Encoding rules on
// a request header as Beast's parser leaves it.
#include <catch2/catch.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/request_framing.hpp"

namespace bhttp = boost::beast::http;
using ocirelay::http::request_framing_problem;

namespace {

// The header of `text` as the server's parser reads it.
bhttp::request_header<> header_of(const std::string& text) {
  bhttp::request_parser<bhttp::string_body> parser;
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(text), ec);
  REQUIRE(parser.is_header_done());
  return parser.get().base();
}

}  // namespace

TEST_CASE("Host: required once in HTTP/1.1, at most once in HTTP/1.0", "[framing]") {
  CHECK_FALSE(request_framing_problem(header_of("GET / HTTP/1.1\r\nHost: a\r\n\r\n")));
  CHECK_FALSE(request_framing_problem(header_of("GET / HTTP/1.0\r\n\r\n")));
  auto missing = request_framing_problem(header_of("GET / HTTP/1.1\r\n\r\n"));
  REQUIRE(missing);
  CHECK(missing->status == 400);
  CHECK(request_framing_problem(header_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")));
  CHECK(request_framing_problem(header_of("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n")));
}

TEST_CASE("Transfer-Encoding: exactly chunked, in HTTP/1.1, without Content-Length", "[framing]") {
  const std::string start = "POST / HTTP/1.1\r\nHost: a\r\n";
  CHECK_FALSE(request_framing_problem(header_of(start + "Transfer-Encoding: chunked\r\n\r\n")));
  CHECK_FALSE(request_framing_problem(header_of(start + "Transfer-Encoding: Chunked \r\n\r\n")));
  for (const char* te : {"xchunked", "gzip", "identity", "chunked, identity", "gzip, chunked",
                         "chunked, chunked", "chunked,", ", chunked", "gzip,chunked"}) {
    INFO(te);
    auto problem = request_framing_problem(header_of(start + "Transfer-Encoding: " + te + "\r\n\r\n"));
    REQUIRE(problem);
    CHECK(problem->status == 400);
  }
  CHECK(request_framing_problem(
      header_of(start + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")));
  CHECK(request_framing_problem(header_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")));
}
