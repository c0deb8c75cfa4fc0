#include <catch2/catch.hpp>

#include <boost/asio/ip/address.hpp>

#include "ocirelay/http/client.hpp"

using boost::asio::ip::make_address;
using ocirelay::http::is_link_local;

TEST_CASE("link-local addresses are those the client refuses by default", "[client]") {
  for (const char* a :
       {"169.254.169.254", "169.254.0.0", "169.254.255.255", "fe80::1", "febf:ffff::1",
        "::ffff:169.254.169.254", "fd00:c1::a9fe:a9fe", "64:ff9b::a9fe:a9fe"}) {
    INFO(a);
    CHECK(is_link_local(make_address(a)));
  }
  for (const char* a :
       {"127.0.0.1", "169.253.255.255", "169.255.0.0", "10.0.0.1", "::1", "fec0::1", "fe7f::1",
        "::ffff:127.0.0.1", "2001:db8::1", "fd00:c1::a9fe:a9ff", "64:ff9b::a9fe:a9ff"}) {
    INFO(a);
    CHECK_FALSE(is_link_local(make_address(a)));
  }
}
