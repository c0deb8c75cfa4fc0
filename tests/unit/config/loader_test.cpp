// load_config/parse_config on valid configurations: the issue's example in
// YAML and JSON, defaults, every key, durations, listen addresses, secrets,
// the repository's own config files and the embedded default.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>

#include <rapidjson/document.h>

#include "ocirelay/config/loader.hpp"
#include "support/fixtures.hpp"
#include "support/temp_dir.hpp"
#include "unit/config/config_test_support.hpp"
#include "unit/config/fake_secrets.hpp"

using namespace ocirelay;
using namespace ocirelay::config;
using namespace std::chrono_literals;
using ocirelay::test::dump;
using ocirelay::test::fake_secrets;
using ocirelay::test::parse_ok;
using ocirelay::test::TempDir;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto pos = text.find(from); pos != std::string::npos;
       pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

// TLS material for the example: any non-empty file will do.
struct TlsFiles {
  TempDir dir;
  std::string cert = dir.write("tls/server.crt", "-----BEGIN CERTIFICATE-----\nx\n");
  std::string key = dir.write("tls/server.key", "-----BEGIN PRIVATE KEY-----\nx\n");
  std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\ny\n");
};

// The issue's example, with a second destination for the second route and the
// file paths pointing at real files.
std::string example_yaml(const TlsFiles& tls) {
  return replace_all(replace_all(replace_all(R"(server:
  listen: "0.0.0.0:8443"        # host:port, IPv6 as "[::]:8443"
  tls:                          # omit for plain HTTP
    cert_file: @CERT@
    key_file: @KEY@
  max_body_bytes: 1048576
  auth:                         # omit: no ingress auth
    basic:
      - { username: ons, password: "${file:/etc/ocirelay/secrets/ons-password}" }
    bearer_tokens: ["${env:OCIRELAY_INGRESS_TOKEN}"]
  ons:
    auto_confirm: true
    confirm_url_hosts: ["*.oraclecloud.com"]   # only these hosts are ever fetched
    ca_file: @CA@                      # optional; default: system trust store
storage:
  path: /var/lib/ocirelay/queue.db
  dedupe_window: 24h            # how long an eventID is remembered
log:
  level: info                   # trace, debug, info, warn, error
  file: /var/log/ocirelay/ocirelay.log         # optional; stderr always
destinations:
  - name: oic-invoices
    url: https://oic.example.com/ic/api/integration/v1/flows/rest/INVOICES/1.0/event
    auth: { type: basic, username: relay, password: "${env:OIC_PASSWORD}" }   # or type: none
    timeout: 30s
    retry: { initial_backoff: 1s, max_backoff: 5m, max_age: 72h }
    tls: { ca_file: @CA@ }            # optional; default: system trust store
  - name: oic-photos
    url: http://127.0.0.1:8081/photos
routes:
  - name: invoices
    match:                      # an OCI Events rule condition, verbatim
      eventType: [com.oraclecloud.objectstorage.createobject]
      data:
        compartmentName: finance
        additionalDetails: { bucketName: "invoices-*" }
    destinations: [oic-invoices]
  - name: hr-photos             # shorthands, ANDed with each other and with match
    compartment: hr             # data.compartmentName or data.compartmentId
    bucket: hr-photos           # data.additionalDetails.bucketName
    event_types: [com.oraclecloud.objectstorage.createobject]
    destinations: [oic-photos]
)",
                                             "@CERT@", tls.cert),
                                 "@KEY@", tls.key),
                     "@CA@", tls.ca);
}

// The same configuration, as JSON.
std::string example_json(const TlsFiles& tls) {
  return replace_all(replace_all(replace_all(R"({
  "server": {
    "listen": "0.0.0.0:8443",
    "tls": {"cert_file": "@CERT@", "key_file": "@KEY@"},
    "max_body_bytes": 1048576,
    "auth": {
      "basic": [{"username": "ons", "password": "${file:/etc/ocirelay/secrets/ons-password}"}],
      "bearer_tokens": ["${env:OCIRELAY_INGRESS_TOKEN}"]
    },
    "ons": {"auto_confirm": true, "confirm_url_hosts": ["*.oraclecloud.com"], "ca_file": "@CA@"}
  },
  "storage": {"path": "/var/lib/ocirelay/queue.db", "dedupe_window": "24h"},
  "log": {"level": "info", "file": "/var/log/ocirelay/ocirelay.log"},
  "destinations": [
    {
      "name": "oic-invoices",
      "url": "https://oic.example.com/ic/api/integration/v1/flows/rest/INVOICES/1.0/event",
      "auth": {"type": "basic", "username": "relay", "password": "${env:OIC_PASSWORD}"},
      "timeout": "30s",
      "retry": {"initial_backoff": "1s", "max_backoff": "5m", "max_age": "72h"},
      "tls": {"ca_file": "@CA@"}
    },
    {"name": "oic-photos", "url": "http://127.0.0.1:8081/photos"}
  ],
  "routes": [
    {
      "name": "invoices",
      "match": {
        "eventType": ["com.oraclecloud.objectstorage.createobject"],
        "data": {"compartmentName": "finance", "additionalDetails": {"bucketName": "invoices-*"}}
      },
      "destinations": ["oic-invoices"]
    },
    {
      "name": "hr-photos",
      "compartment": "hr",
      "bucket": "hr-photos",
      "event_types": ["com.oraclecloud.objectstorage.createobject"],
      "destinations": ["oic-photos"]
    }
  ]
}
)",
                                             "@CERT@", tls.cert),
                                 "@KEY@", tls.key),
                     "@CA@", tls.ca);
}

SecretSources example_secrets() {
  return fake_secrets({{"OCIRELAY_INGRESS_TOKEN", "ingress-token-xyz"}, {"OIC_PASSWORD", "oic-pw"}},
                      {{"/etc/ocirelay/secrets/ons-password", "ons-pw\n"}});
}

rapidjson::Document json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  REQUIRE_FALSE(doc.HasParseError());
  return doc;
}

// Routes hold compiled conditions, which have no ==; compare their behaviour
// on the sample events as well as the plain fields.
void check_same_routes(const std::vector<Route>& a, const std::vector<Route>& b) {
  REQUIRE(a.size() == b.size());
  const rapidjson::Document events[] = {
      json(test::fixture("events/createobject.json")),
      json(test::fixture("events/deleteobject.json")),
      json(test::fixture("events/createbucket.json")),
      json(test::fixture("events/updateobject.json")),
  };
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].compartments == b[i].compartments);
    CHECK(a[i].buckets == b[i].buckets);
    CHECK(a[i].event_types == b[i].event_types);
    CHECK(a[i].destinations == b[i].destinations);
    for (const auto& event : events) {
      CHECK(a[i].match.matches(event) == b[i].match.matches(event));
    }
  }
}

void check_same(const Config& a, const Config& b) {
  CHECK(a.server == b.server);
  CHECK(a.storage == b.storage);
  CHECK(a.log == b.log);
  CHECK(a.destinations == b.destinations);
  check_same_routes(a.routes, b.routes);
}

}  // namespace

TEST_CASE("the issue's example loads, with every value in place", "[config]") {
  const TlsFiles tls;
  const Config c = parse_ok(example_yaml(tls), "ocirelay.yaml", example_secrets());

  CHECK(c.source_file == "ocirelay.yaml");
  CHECK(c.server.listen.host == "0.0.0.0");
  CHECK(c.server.listen.port == 8443);
  REQUIRE(c.server.tls.has_value());
  CHECK(c.server.tls->cert_file == tls.cert);
  CHECK(c.server.tls->key_file == tls.key);
  CHECK(c.server.max_body_bytes == 1048576);
  REQUIRE(c.server.auth.has_value());
  REQUIRE(c.server.auth->basic.size() == 1);
  CHECK(c.server.auth->basic[0].username == "ons");
  CHECK(c.server.auth->basic[0].password == "ons-pw");
  CHECK(c.server.auth->bearer_tokens == std::vector<std::string>{"ingress-token-xyz"});
  CHECK(c.server.ons.auto_confirm);
  CHECK(c.server.ons.confirm_url_hosts == std::vector<std::string>{"*.oraclecloud.com"});
  CHECK(c.server.ons.ca_file == tls.ca);
  CHECK(c.storage.path == "/var/lib/ocirelay/queue.db");
  CHECK(c.storage.dedupe_window == 24h);
  CHECK(c.log.level == "info");
  CHECK(c.log.file == "/var/log/ocirelay/ocirelay.log");

  REQUIRE(c.destinations.size() == 2);
  const Destination& d = c.destinations[0];
  CHECK(d.name == "oic-invoices");
  CHECK(d.url == "https://oic.example.com/ic/api/integration/v1/flows/rest/INVOICES/1.0/event");
  CHECK(d.auth.type == DestinationAuth::Type::basic);
  CHECK(d.auth.username == "relay");
  CHECK(d.auth.password == "oic-pw");
  CHECK(d.timeout == 30s);
  CHECK(d.retry.initial_backoff == 1s);
  CHECK(d.retry.max_backoff == 5min);
  CHECK(d.retry.max_age == 72h);
  CHECK(d.tls.ca_file == tls.ca);
  CHECK(d.concurrency == 4);
  CHECK(c.destinations[1].auth.type == DestinationAuth::Type::none);
  CHECK(c.destinations[1].tls.ca_file.empty());

  REQUIRE(c.routes.size() == 2);
  CHECK(c.routes[0].name == "invoices");
  CHECK(c.routes[0].destinations == std::vector<std::string>{"oic-invoices"});
  CHECK(c.routes[0].compartments.empty());
  CHECK(c.routes[1].name == "hr-photos");
  CHECK(c.routes[1].compartments == std::vector<std::string>{"hr"});
  CHECK(c.routes[1].buckets == std::vector<std::string>{"hr-photos"});
  CHECK(c.routes[1].event_types ==
        std::vector<std::string>{"com.oraclecloud.objectstorage.createobject"});
  CHECK(c.routes[1].destinations == std::vector<std::string>{"oic-photos"});

  // The compiled match behaves like OCI's: createobject in finance's
  // invoices-* bucket matches; a delete does not; the second route has no match.
  CHECK(c.routes[0].match.matches(json(test::fixture("events/createobject.json"))));
  CHECK_FALSE(c.routes[0].match.matches(json(test::fixture("events/deleteobject.json"))));
  CHECK(c.routes[1].match.matches(json(test::fixture("events/deleteobject.json"))));
}

TEST_CASE("the issue's example verbatim only lacks the destination oic-photos", "[config]") {
  const TlsFiles tls;
  std::string text = example_yaml(tls);
  const auto cut = text.find("  - name: oic-photos");
  text.erase(cut, text.find("routes:") - cut);
  auto result = parse_config(text, "ocirelay.yaml", example_secrets());
  REQUIRE_FALSE(result.ok());
  INFO(dump(result.error()));
  REQUIRE(result.error().size() == 1);
  CHECK(result.error()[0].path == "routes[1].destinations[0]");
  CHECK_THAT(result.error()[0].message, Catch::Contains("unknown destination 'oic-photos'"));
}

TEST_CASE("the same configuration as JSON gives the same structs", "[config]") {
  const TlsFiles tls;
  const Config from_yaml = parse_ok(example_yaml(tls), "ocirelay.yaml", example_secrets());
  const Config from_json = parse_ok(example_json(tls), "ocirelay.json", example_secrets());
  check_same(from_yaml, from_json);
  CHECK(from_json.source_file == "ocirelay.json");

  // The extension decides, case-insensitively; load_config reads files too.
  const Config upper = parse_ok(example_json(tls), "OCIRELAY.JSON", example_secrets());
  check_same(from_yaml, upper);
  const auto path = tls.dir.write("relay.json", example_json(tls));
  auto loaded = load_config(path, example_secrets());
  REQUIRE(loaded.ok());
  check_same(from_yaml, loaded.value());
  CHECK(loaded->source_file == path);
}

TEST_CASE("an empty file, {} and a null document give every default", "[config]") {
  const Config defaults;
  for (const auto& [text, name] :
       std::vector<std::pair<std::string, std::string>>{{"", "a.yaml"},
                                                        {"# only a comment\n", "a.yaml"},
                                                        {"{}", "a.yaml"},
                                                        {"---\n", "a.yaml"},
                                                        {"{}", "a.json"},
                                                        {"null", "a.json"},
                                                        {"{ }\n", "a.json"}}) {
    INFO(name << ": " << text);
    const Config c = parse_ok(text, name);
    check_same(c, defaults);
    CHECK(c.server.listen.port == 8443);
    CHECK_FALSE(c.server.tls.has_value());
    CHECK_FALSE(c.server.auth.has_value());
    CHECK(c.destinations.empty());
    CHECK(c.routes.empty());
  }
}

TEST_CASE("a UTF-8 byte order mark is ignored in both formats", "[config]") {
  CHECK(parse_ok("\xEF\xBB\xBFlog:\n  level: warn\n").log.level == "warn");
  CHECK(parse_ok("\xEF\xBB\xBF{\"log\": {\"level\": \"warn\"}}", "c.json").log.level == "warn");
}

TEST_CASE("a null value keeps the default", "[config]") {
  const Config c = parse_ok("server:\n  listen:\n  tls: ~\nlog:\n  level: null\nroutes:\n");
  CHECK(c.server.listen == ListenAddress{});
  CHECK_FALSE(c.server.tls.has_value());
  CHECK(c.log.level == "info");
  CHECK(c.routes.empty());
}

TEST_CASE("every extra key is read", "[config]") {
  const TempDir dir;
  const auto ca = dir.write("ca.pem", "pem");
  const Config c = parse_ok(R"(
server:
  listen: "[::1]:0"
  max_body_bytes: 65536
  max_batch_events: 50
  max_header_bytes: 8192
  max_connections: 100
  header_timeout: 5s
  body_timeout: 15s
  idle_timeout: 2m
  write_timeout: 3s
  shutdown_timeout: 0s
  ons:
    auto_confirm: false
    confirm_url_hosts: ["*.oraclecloud.com", "notification.*.oci.oraclecloud.com"]
    ca_file: )" + ca + R"(
    confirm_timeout: 2500ms
storage:
  dedupe_window: 7d
log:
  flush_interval: 250ms
destinations:
  - name: d1
    url: https://h.example.com:9443/x?y=z
    concurrency: 1024
    retry: { initial_backoff: 250ms, max_backoff: 250ms }
    auth: { type: none }
)");
  CHECK(c.server.listen.host == "::1");
  CHECK(c.server.listen.port == 0);
  CHECK(c.server.max_body_bytes == 65536);
  CHECK(c.server.max_batch_events == 50);
  CHECK(c.server.max_header_bytes == 8192);
  CHECK(c.server.max_connections == 100);
  CHECK(c.server.header_timeout == 5s);
  CHECK(c.server.body_timeout == 15s);
  CHECK(c.server.idle_timeout == 2min);
  CHECK(c.server.write_timeout == 3s);
  CHECK(c.server.shutdown_timeout == 0s);
  CHECK_FALSE(c.server.ons.auto_confirm);
  CHECK(c.server.ons.confirm_url_hosts ==
        std::vector<std::string>{"*.oraclecloud.com", "notification.*.oci.oraclecloud.com"});
  CHECK(c.server.ons.ca_file == ca);
  CHECK(c.server.ons.confirm_timeout == 2500ms);
  CHECK(c.storage.dedupe_window == 24h * 7);
  CHECK(c.storage.path == Storage{}.path);
  CHECK(c.log.flush_interval == 250ms);
  CHECK(Log{}.flush_interval == 1s);
  REQUIRE(c.destinations.size() == 1);
  CHECK(c.destinations[0].concurrency == 1024);
  CHECK(c.destinations[0].retry.initial_backoff == 250ms);
  CHECK(c.destinations[0].retry.max_backoff == 250ms);
  CHECK(c.destinations[0].retry.max_age == 72h);  // default kept
  CHECK(c.destinations[0].auth.type == DestinationAuth::Type::none);
}

TEST_CASE("storage.reserve and storage.max_size are sizes, with defaults when unset", "[config]") {
  CHECK_FALSE(Storage{}.reserve.has_value());  // 64 MiB, at most a tenth of the file system
  CHECK(Storage{}.max_size == 0u);             // no quota
  const Config unset = parse_ok("storage:\n  path: /tmp/q.db\n");
  CHECK_FALSE(unset.storage.reserve.has_value());
  CHECK(unset.storage.max_size == 0u);

  const Config c = parse_ok("storage:\n  reserve: 64MiB\n  max_size: 2GiB\n");
  CHECK(c.storage.reserve == std::optional<std::uint64_t>(64ull << 20));
  CHECK(c.storage.max_size == 2ull << 30);
  CHECK(parse_ok("storage: { reserve: 500MB }").storage.reserve == 500ull << 20);  // binary
  CHECK(parse_ok("storage: { reserve: 1048576 }").storage.reserve == 1048576u);
  CHECK(parse_ok("storage: { reserve: 0 }").storage.reserve == 0u);  // set: no reserve
  CHECK(parse_ok("storage: { max_size: 0 }").storage.max_size == 0u);
  CHECK(parse_ok("storage: { max_size: 1MiB }").storage.max_size == 1u << 20);
  CHECK(parse_ok("log: { max_size: 10MiB }").log.max_size == 10u << 20);

  const Config j =
      parse_ok(R"({"storage": {"reserve": "128MiB", "max_size": 4294967296}})", "c.json");
  CHECK(j.storage.reserve == 128ull << 20);
  CHECK(j.storage.max_size == 4ull << 30);
}

TEST_CASE("durations are read in every unit", "[config]") {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, Duration>>{
           {"250ms", 250ms}, {"30s", 30s}, {"5m", 5min}, {"72h", 72h}, {"2d", 48h}}) {
    const Config c = parse_ok("storage:\n  dedupe_window: " + text + "\n");
    CHECK(c.storage.dedupe_window == expected);
    const Config j = parse_ok(R"({"storage": {"dedupe_window": ")" + text + R"("}})", "c.json");
    CHECK(j.storage.dedupe_window == expected);
  }
}

TEST_CASE("listen addresses: IPv4, IPv6 in brackets, host names, port 0", "[config]") {
  struct Case {
    std::string text;
    std::string host;
    std::uint16_t port;
  };
  for (const Case& c :
       std::vector<Case>{{"0.0.0.0:8443", "0.0.0.0", 8443},
                         {"127.0.0.1:0", "127.0.0.1", 0},
                         {"[::]:8443", "::", 8443},
                         {"[::1]:65535", "::1", 65535},
                         {"[fe80::1:2]:80", "fe80::1:2", 80},
                         {"localhost:8080", "localhost", 8080},
                         {"relay.internal.example.com:1", "relay.internal.example.com", 1}}) {
    INFO(c.text);
    const Config config = parse_ok("server: { listen: \"" + c.text + "\" }");
    CHECK(config.server.listen.host == c.host);
    CHECK(config.server.listen.port == c.port);
  }
}

TEST_CASE("secret references resolve anywhere a string goes", "[config]") {
  const TempDir dir;
  const auto cert = dir.write("c.pem", "x");
  const auto secrets = fake_secrets({{"LISTEN", "127.0.0.1:9000"},
                                     {"OIC_HOST", "oic.example.com"},
                                     {"USER", "relay"},
                                     {"CERT", cert},
                                     {"NAME", "dest-a"},
                                     {"LEVEL", "debug"}},
                                    {{"/s/pw", "p@ss word\n\n"}, {"/s/token", "tok"}});
  const Config c = parse_ok(R"(
server:
  listen: ${env:LISTEN}
  tls: { cert_file: "${env:CERT}", key_file: "${env:CERT}" }
  auth:
    bearer_tokens: ["${file:/s/token}", "prefix-${file:/s/token}-${env:USER}", "$${not-a-ref}"]
log: { level: "${env:LEVEL}" }
destinations:
  - name: ${env:NAME}
    url: https://${env:OIC_HOST}/ic/api/x
    auth: { type: basic, username: "${env:USER}", password: "${file:/s/pw}" }
routes:
  - name: r
    destinations: ["${env:NAME}"]
)",
                            "test.yaml", secrets);
  CHECK(c.server.listen.port == 9000);
  CHECK(c.server.tls->cert_file == cert);
  CHECK(c.server.auth->bearer_tokens ==
        std::vector<std::string>{"tok", "prefix-tok-relay", "${not-a-ref}"});
  CHECK(c.log.level == "debug");
  CHECK(c.destinations[0].name == "dest-a");
  CHECK(c.destinations[0].url == "https://oic.example.com/ic/api/x");
  CHECK(c.destinations[0].auth.username == "relay");
  CHECK(c.destinations[0].auth.password == "p@ss word");
  CHECK(c.routes[0].destinations == std::vector<std::string>{"dest-a"});
}

TEST_CASE("match conditions are taken verbatim, without secret resolution", "[config]") {
  const Config c = parse_ok(R"(
destinations: [{ name: d, url: "http://h/" }]
routes:
  - name: r
    match: { data: { resourceName: "${env:NOT_RESOLVED}" } }
    destinations: [d]
)");
  CHECK(c.routes[0].match.matches(json(R"({"data":{"resourceName":"${env:NOT_RESOLVED}"}})")));
}

TEST_CASE("match scalars of every YAML kind become text", "[config]") {
  const Config c = parse_ok(R"(
destinations: [{ name: d, url: "http://h/" }]
routes:
  - name: r
    match:
      data: { size: 5, flag: true, tag: [a, "*b"] }
    destinations: [d]
)");
  CHECK(c.routes[0].match.matches(json(R"({"data":{"size":5,"flag":true,"tag":"xb"}})")));
  CHECK_FALSE(c.routes[0].match.matches(json(R"({"data":{"size":6,"flag":true,"tag":"a"}})")));
}

TEST_CASE("route shorthands accept a string or a sequence", "[config]") {
  const Config c = parse_ok(R"(
destinations: [{ name: d, url: "http://h/" }]
routes:
  - { name: one, compartment: hr, bucket: photos, event_types: com.x.y, destinations: [d] }
  - name: many
    compartment: [hr, "ocid1.compartment.oc1..x"]
    bucket: [a-*, b]
    event_types: [com.x.a, com.x.b]
    destinations: [d, d]
)");
  CHECK(c.routes[0].compartments == std::vector<std::string>{"hr"});
  CHECK(c.routes[0].buckets == std::vector<std::string>{"photos"});
  CHECK(c.routes[0].event_types == std::vector<std::string>{"com.x.y"});
  CHECK(c.routes[1].compartments == std::vector<std::string>{"hr", "ocid1.compartment.oc1..x"});
  CHECK(c.routes[1].buckets == std::vector<std::string>{"a-*", "b"});
  CHECK(c.routes[1].event_types == std::vector<std::string>{"com.x.a", "com.x.b"});
}

TEST_CASE("YAML anchors and aliases are followed", "[config]") {
  const Config c = parse_ok(R"(
destinations:
  - name: a
    url: http://h/a
    retry: &retry { initial_backoff: 2s, max_backoff: 1m }
  - name: b
    url: http://h/b
    retry: *retry
)");
  CHECK(c.destinations[1].retry == c.destinations[0].retry);
  CHECK(c.destinations[1].retry.initial_backoff == 2s);
}

TEST_CASE("config/dev.yaml parses and is what it says", "[config]") {
  auto result = load_config(std::string(OCIRELAY_SOURCE_DIR) + "/config/dev.yaml", fake_secrets());
  INFO((result.ok() ? std::string() : dump(result.error())));
  REQUIRE(result.ok());
  const Config& c = result.value();
  CHECK(c.server.listen.host == "127.0.0.1");
  CHECK(c.server.listen.port == 8080);
  CHECK_FALSE(c.server.tls.has_value());
  CHECK_FALSE(c.server.ons.auto_confirm);
  CHECK(c.storage.path == "./var/ocirelay/queue.db");
  REQUIRE(c.destinations.size() == 1);
  CHECK(c.destinations[0].url.starts_with("http://127.0.0.1:8081/"));
  REQUIRE(c.routes.size() == 1);
  CHECK(c.routes[0].match.matches(json(test::fixture("events/createobject.json"))));
}

TEST_CASE("the embedded default is config/dev.yaml and parses without errors", "[config]") {
  const std::string_view embedded = embedded_default_config();
  CHECK(embedded == test::read_file(std::string(OCIRELAY_SOURCE_DIR) + "/config/dev.yaml"));
  auto result = parse_config(embedded, "<embedded default>", fake_secrets());
  INFO((result.ok() ? std::string() : dump(result.error())));
  REQUIRE(result.ok());
  CHECK(result->server.listen.port == 8080);
  CHECK(result->source_file == "<embedded default>");
}

TEST_CASE("config/production.yaml: valid once its files and secrets exist", "[config]") {
  const std::string original =
      test::read_file(std::string(OCIRELAY_SOURCE_DIR) + "/config/production.yaml");
  const auto secrets = fake_secrets({{"OCIRELAY_INGRESS_TOKEN", "t1"},
                                     {"OCIRELAY_INGRESS_TOKEN_OLD", "t0"},
                                     {"OIC_INVOICES_PASSWORD", "p1"},
                                     {"OIC_PHOTOS_PASSWORD", "p2"}},
                                    {{"/etc/ocirelay/secrets/ons-password", "p3\n"}});

  SECTION("as shipped, the only errors are the absent /etc files") {
    auto result = parse_config(original, "production.yaml", secrets);
    REQUIRE_FALSE(result.ok());
    INFO(dump(result.error()));
    std::vector<std::string> paths;
    for (const auto& e : result.error()) {
      CHECK_THAT(e.message,
                 Catch::StartsWith("cannot read") && Catch::Contains("No such file or directory"));
      paths.push_back(e.path);
    }
    CHECK(paths == std::vector<std::string>{"server.tls.cert_file", "server.tls.key_file",
                                            "server.ons.ca_file", "destinations[0].tls.ca_file"});
  }

  SECTION("with its /etc/ocirelay files in place, it loads with every key set") {
    const TempDir dir;
    for (const char* f : {"tls/server.crt", "tls/server.key", "tls/oci-ca.pem", "tls/oic-ca.pem"}) {
      dir.write(f, "-----BEGIN CERTIFICATE-----\n");
    }
    const std::string root = dir.path().string() + "/";
    const std::string text = replace_all(original, "/etc/ocirelay/tls/", root + "tls/");
    const Config c = parse_ok(text, "production.yaml", secrets);
    const Config defaults;
    CHECK(c.server.listen.port == 8443);
    REQUIRE(c.server.tls.has_value());
    CHECK(c.server.tls->cert_file == root + "tls/server.crt");
    REQUIRE(c.server.auth.has_value());
    CHECK(c.server.auth->basic.size() == 1);
    CHECK(c.server.auth->basic[0].password == "p3");
    CHECK(c.server.auth->bearer_tokens == std::vector<std::string>{"t1", "t0"});
    CHECK(c.server.ons.ca_file == root + "tls/oci-ca.pem");
    CHECK(c.log.file == "/var/log/ocirelay/ocirelay.log");
    CHECK(c.storage.reserve == 64ull << 20);
    CHECK(c.storage.max_size == 0u);
    REQUIRE(c.destinations.size() == 2);
    CHECK(c.destinations[0].auth.password == "p1");
    CHECK(c.destinations[1].auth.password == "p2");
    CHECK(c.destinations[0].tls.ca_file == root + "tls/oic-ca.pem");
    REQUIRE(c.routes.size() == 2);
    CHECK(c.routes[0].match.matches(json(test::fixture("events/createobject.json"))));
    // Every key is spelled out in the example, so the known extra keys appear.
    for (const char* key :
         {"max_header_bytes:", "max_connections:", "header_timeout:", "body_timeout:",
          "idle_timeout:", "write_timeout:", "shutdown_timeout:", "confirm_timeout:",
          "concurrency:", "compartment:", "bucket:", "event_types:", "dedupe_window:", "reserve:",
          "max_size:", "bearer_tokens:"}) {
      CHECK_THAT(original, Catch::Contains(key));
    }
  }
}

TEST_CASE("load_config reports an unreadable file by name and reason", "[config]") {
  const TempDir dir;
  auto missing = load_config(dir.file("absent.yaml"), fake_secrets());
  REQUIRE_FALSE(missing.ok());
  REQUIRE(missing.error().size() == 1);
  CHECK(missing.error()[0].file == dir.file("absent.yaml"));
  CHECK_THAT(missing.error()[0].message, Catch::Contains("No such file or directory"));

  auto directory = load_config(dir.path().string(), fake_secrets());
  REQUIRE_FALSE(directory.ok());
  CHECK_THAT(directory.error()[0].message, Catch::Contains("Is a directory"));
}

TEST_CASE("ConfigError::to_string omits unknown parts", "[config]") {
  CHECK(ConfigError{"f.yaml", "server.listen", 3, 11, "bad"}.to_string() ==
        "f.yaml:3:11: server.listen: bad");
  CHECK(ConfigError{"f.yaml", "server.listen", 3, 0, "bad"}.to_string() ==
        "f.yaml:3: server.listen: bad");
  CHECK(ConfigError{"f.yaml", "", 0, 0, "bad"}.to_string() == "f.yaml: bad");
  CHECK(ConfigError{"f.yaml", "a.b", 0, 0, "bad"}.to_string() == "f.yaml: a.b: bad");
  CHECK(ConfigError{"", "a.b", 2, 5, "bad"}.to_string() == "2:5: a.b: bad");
  CHECK(ConfigError{"", "", 0, 0, "bad"}.to_string() == "bad");
}
