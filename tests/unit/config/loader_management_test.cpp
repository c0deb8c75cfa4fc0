// The `management:` section: the listener of /metrics, /ready and the
// detailed /health. Loopback by default; `listen: ""` for none; `tls:` read
// and checked like server.tls; never the address of server.listen.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "config/management_schema.hpp"
#include "ocirelay/config/loader.hpp"
#include "support/temp_dir.hpp"
#include "unit/config/config_test_support.hpp"
#include "unit/config/fake_secrets.hpp"

using namespace ocirelay;
using namespace ocirelay::config;
using ocirelay::test::dump;
using ocirelay::test::fake_secrets;
using ocirelay::test::TempDir;

namespace {

const SecretSources& secrets() {
  static const SecretSources s = fake_secrets({{"MGMT", "10.0.1.23:8484"}, {"NOTHING", ""}});
  return s;
}

Config parse_ok(const std::string& text, const std::string& name = "test.yaml") {
  return ocirelay::test::parse_ok(text, name, secrets());
}

// The only error of `text`: at `path`, containing `message`.
ConfigError only_error(const std::string& text, const std::string& path,
                       const std::string& message) {
  auto result = parse_config(text, "test.yaml", secrets());
  INFO(text);
  REQUIRE_FALSE(result.ok());
  INFO(dump(result.error()));
  REQUIRE(result.error().size() == 1);
  const ConfigError e = result.error()[0];
  CHECK(e.file == "test.yaml");
  CHECK(e.path == path);
  CHECK_THAT(e.message, Catch::Contains(message));
  return e;
}

}  // namespace

TEST_CASE("management: absent, empty or null, the default is loopback port 8484",
          "[config][management]") {
  for (const std::string text :
       {"", "management:\n", "management: {}\n", "management:\n  listen: ~\n",
        "server: { listen: \"0.0.0.0:8443\" }\n"}) {
    INFO(text);
    const Config c = parse_ok(text);
    REQUIRE(c.management.listen.has_value());
    CHECK(c.management.listen->host == "127.0.0.1");
    CHECK(c.management.listen->port == 8484);
    CHECK_FALSE(c.management.tls.has_value());
  }
  // Not Prometheus's own port, nor in the range allocated to exporters.
  CHECK(Management::kDefaultPort != 9090);
  CHECK((Management::kDefaultPort < 9090 || Management::kDefaultPort > 9999));
  CHECK(Management{} == parse_ok("").management);
}

TEST_CASE("management.listen: host:port as server.listen, secret references, \"\" for none",
          "[config][management]") {
  struct Case {
    std::string text;
    std::string host;
    std::uint16_t port;
  };
  for (const Case& c : std::vector<Case>{{"127.0.0.1:0", "127.0.0.1", 0},
                                         {"10.0.1.23:9464", "10.0.1.23", 9464},
                                         {"[::1]:8484", "::1", 8484},
                                         {"[::]:8484", "::", 8484},
                                         {"relay-mgmt.internal:8484", "relay-mgmt.internal", 8484},
                                         {"${env:MGMT}", "10.0.1.23", 8484}}) {
    INFO(c.text);
    const Config config = parse_ok("management:\n  listen: \"" + c.text + "\"\n");
    REQUIRE(config.management.listen.has_value());
    CHECK(config.management.listen->host == c.host);
    CHECK(config.management.listen->port == c.port);
  }
  CHECK_FALSE(parse_ok("management:\n  listen: \"\"\n").management.listen.has_value());
  CHECK_FALSE(parse_ok("management: { listen: \"${env:NOTHING}\" }\n").management.listen);
  CHECK_FALSE(
      parse_ok(R"({"management": {"listen": ""}})", "c.json").management.listen.has_value());
  const Config json = parse_ok(R"({"management": {"listen": "127.0.0.1:9000"}})", "c.json");
  CHECK(json.management.listen == ListenAddress{"127.0.0.1", 9000});
}

TEST_CASE("management.listen: a bad address names the key and the way out",
          "[config][management]") {
  const auto e = only_error("management:\n  listen: \"8484\"\n", "management.listen",
                            "bad listen address '8484': expected host:port");
  CHECK(e.line == 2);
  CHECK_THAT(e.message, Catch::Contains("or \"\" to serve every endpoint on the ingress port"));
  only_error("management:\n  listen: \"::1:8484\"\n", "management.listen",
             "an IPv6 address must be in brackets");
  only_error("management:\n  listen: \"127.0.0.1:65536\"\n", "management.listen",
             "bad listen address");
  only_error("management:\n  listen: [a, b]\n", "management.listen", "expected");
  only_error("management: \"127.0.0.1:8484\"\n", "management", "expected a mapping");
  only_error("management:\n  lisen: \"127.0.0.1:1\"\n", "management.lisen",
             "unknown key 'lisen' (did you mean 'listen'?)");
}

TEST_CASE("management.listen: never server.listen's address", "[config][management]") {
  only_error("server: { listen: \"127.0.0.1:9000\" }\nmanagement: { listen: \"127.0.0.1:9000\" }\n",
             "management.listen",
             "listen address '127.0.0.1:9000' is taken by server.listen (127.0.0.1:9000)");
  // A wildcard on either side takes the port on every address.
  only_error("server: { listen: \"0.0.0.0:9000\" }\nmanagement: { listen: \"10.0.1.23:9000\" }\n",
             "management.listen", "is taken by server.listen (0.0.0.0:9000)");
  only_error("server: { listen: \"[::]:9000\" }\nmanagement: { listen: \"127.0.0.1:9000\" }\n",
             "management.listen", "is taken by server.listen ([::]:9000)");
  only_error("server: { listen: \"10.0.1.23:9000\" }\nmanagement: { listen: \"[::]:9000\" }\n",
             "management.listen", "is taken by server.listen");
  // The default management address against a server.listen on its port.
  const auto e = only_error("server:\n  listen: \"0.0.0.0:8484\"\n", "server.listen",
                            "port 8484 is taken by the management endpoint (management.listen "
                            "defaults to 127.0.0.1:8484)");
  CHECK(e.line == 2);
  // Fine: other ports, other hosts, port 0, or no management listener.
  parse_ok("server: { listen: \"127.0.0.1:9000\" }\nmanagement: { listen: \"127.0.0.1:9001\" }\n");
  parse_ok("server: { listen: \"10.0.1.23:9000\" }\nmanagement: { listen: \"127.0.0.1:9000\" }\n");
  parse_ok("server: { listen: \"127.0.0.1:0\" }\nmanagement: { listen: \"127.0.0.1:0\" }\n");
  parse_ok("server: { listen: \"0.0.0.0:8484\" }\nmanagement: { listen: \"\" }\n");
}

TEST_CASE("listen_addresses_clash", "[config][management]") {
  using detail::listen_addresses_clash;
  CHECK(listen_addresses_clash({"127.0.0.1", 1}, {"127.0.0.1", 1}));
  CHECK(listen_addresses_clash({"0.0.0.0", 1}, {"127.0.0.1", 1}));
  CHECK(listen_addresses_clash({"::1", 1}, {"::", 1}));
  CHECK(listen_addresses_clash({"::0", 1}, {"10.0.0.1", 1}));  // "::" written another way
  CHECK_FALSE(listen_addresses_clash({"127.0.0.1", 1}, {"127.0.0.1", 2}));
  CHECK_FALSE(listen_addresses_clash({"127.0.0.1", 1}, {"127.0.0.2", 1}));
  CHECK_FALSE(listen_addresses_clash({"0.0.0.0", 0}, {"0.0.0.0", 0}));  // any free port
}

TEST_CASE("management.tls: read like server.tls, with the same checks", "[config][management]") {
  TempDir dir;
  const std::string cert = dir.write("m.crt", "-----BEGIN CERTIFICATE-----\n");
  const std::string key = dir.write("m.key", "-----BEGIN PRIVATE KEY-----\n");
  const Config c =
      parse_ok("management:\n  listen: \"10.0.1.23:8484\"\n  tls:\n    cert_file: " + cert +
               "\n    key_file: " + key + "\n");
  REQUIRE(c.management.tls.has_value());
  CHECK(c.management.tls->cert_file == cert);
  CHECK(c.management.tls->key_file == key);
  CHECK_FALSE(c.server.tls.has_value());
  // With the default listen address too.
  CHECK(parse_ok("management: { tls: { cert_file: " + cert + ", key_file: " + key + " } }\n")
            .management.tls.has_value());

  only_error("management:\n  tls: { cert_file: " + cert + " }\n", "management.tls.key_file",
             "missing");
  only_error(
      "management:\n  tls: { cert_file: " + cert + ", key_file: " + dir.file("absent.key") + " }\n",
      "management.tls.key_file", "cannot read");
  only_error("management:\n  tls: { cert_file: " + cert + ", key_file: " + key + ", ca_file: x }\n",
             "management.tls.ca_file", "unknown key 'ca_file'");
  // The same messages as for server.tls, but for the key path.
  auto as_server =
      parse_config("server:\n  tls: { cert_file: " + cert + " }\n", "test.yaml", secrets());
  REQUIRE_FALSE(as_server.ok());
  const ConfigError as_management = only_error("management:\n  tls: { cert_file: " + cert + " }\n",
                                               "management.tls.key_file", "");
  CHECK(as_server.error()[0].message == as_management.message);
}

TEST_CASE("management.tls needs a management listener", "[config][management]") {
  TempDir dir;
  const std::string cert = dir.write("m.crt", "x");
  const std::string key = dir.write("m.key", "x");
  only_error(
      "management:\n  listen: \"\"\n  tls: { cert_file: " + cert + ", key_file: " + key + " }\n",
      "management.tls", "needs a management listener, but management.listen is \"\"");
}
