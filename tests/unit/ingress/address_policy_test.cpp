#include <catch2/catch.hpp>

#include <boost/asio/ip/address.hpp>

#include "ocirelay/ingress/ons_confirmer.hpp"

using boost::asio::ip::make_address;
using ocirelay::ingress::is_internal_address;

TEST_CASE("internal addresses are recognised, public ones are not", "[ons]") {
  for (const char* internal :
       {"127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::",
        "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.1.2.3", "ff02::1"}) {
    INFO(internal);
    CHECK(is_internal_address(make_address(internal)));
  }
  for (const char* external : {"8.8.8.8", "172.32.0.1", "192.169.0.1", "100.128.0.1",
                               "138.1.0.1", "2001:db8::1", "::ffff:8.8.8.8"}) {
    INFO(external);
    CHECK_FALSE(is_internal_address(make_address(external)));
  }
}
