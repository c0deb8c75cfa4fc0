// Every kind of configuration error: its key path, its position and its
// message; all errors collected; no secret in any message.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

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

ConfigErrors errors_of(const std::string& text, const std::string& name = "test.yaml",
                       const SecretSources& secrets = fake_secrets()) {
  auto result = parse_config(text, name, secrets);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

// The one error at `path`; fails unless there is exactly one there.
ConfigError error_at(const ConfigErrors& errors, const std::string& path) {
  INFO(dump(errors));
  std::vector<ConfigError> found;
  for (const auto& e : errors) {
    if (e.path == path) {
      found.push_back(e);
    }
  }
  REQUIRE(found.size() == 1);
  return found[0];
}

// The only error of a configuration, which must be at `path` and contain
// `message`.
ConfigError only_error(const std::string& text, const std::string& path, const std::string& message,
                       const std::string& name = "test.yaml") {
  const ConfigErrors errors = errors_of(text, name);
  INFO(dump(errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == path);
  CHECK_THAT(errors[0].message, Catch::Contains(message));
  CHECK(errors[0].file == name);
  return errors[0];
}

const std::string kDest = "destinations: [{ name: d, url: \"http://h/\" }]\n";

}  // namespace

TEST_CASE("unknown keys name the allowed keys and the closest one", "[config][errors]") {
  const auto e =
      only_error("server:\n  lisen: \"0.0.0.0:1\"\n", "server.lisen", "unknown key 'lisen'");
  CHECK_THAT(e.message, Catch::Contains("did you mean 'listen'?"));
  CHECK_THAT(e.message, Catch::Contains("allowed keys: listen, tls, max_body_bytes"));
  CHECK(e.line == 2);
  CHECK(e.column == 3);

  only_error("storage: { path: x, dedupe: 1h }", "storage.dedupe", "did you mean 'dedupe_window'?");
  only_error("servers: {}", "servers", "did you mean 'server'?");
  only_error("server: { maxBodyBytes: 5 }", "server.maxBodyBytes",
             "did you mean 'max_body_bytes'?");
  const auto far = only_error("log: { colour: red }", "log.colour", "unknown key 'colour'");
  CHECK_THAT(far.message, !Catch::Contains("did you mean"));
  only_error(kDest + "routes: [{ name: r, destinations: [d], compartments: [a] }]",
             "routes[0].compartments", "did you mean 'compartment'?");
  only_error("destinations: [{ name: d, url: \"http://h/\", retry: { max_wait: 1s } }]",
             "destinations[0].retry.max_wait",
             "allowed keys: initial_backoff, max_backoff, max_age");
}

// The allowed keys of each mapping come from the table that reads them; this
// pins every list, so a key dropped from a table (or added without updating
// docs/configuration.md) shows up here.
TEST_CASE("every mapping lists all of its allowed keys", "[config][errors]") {
  const auto allowed = [](const std::string& text, const std::string& path,
                          const std::string& keys) {
    const ConfigError e = error_at(errors_of(text), path);
    CHECK_THAT(e.message, Catch::StartsWith("unknown key 'zzz'") &&
                              Catch::EndsWith("; allowed keys: " + keys));
  };
  const std::string d = "destinations: [{ name: d, url: \"http://h/\", ";
  allowed("zzz: 1", "zzz", "server, storage, log, destinations, routes, admin, management, oci");
  allowed("oci: { zzz: 1 }", "oci.zzz", "principal, region, api_key, endpoints, ca_file");
  allowed("oci: { endpoints: { zzz: 1 } }", "oci.endpoints.zzz", "metadata, federation, secrets");
  allowed("oci: { api_key: { zzz: 1 } }", "oci.api_key.zzz",
          "tenancy, user, fingerprint, key_file, passphrase");
  allowed("management: { zzz: 1 }", "management.zzz", "listen, tls");
  allowed("server: { zzz: 1 }", "server.zzz",
          "listen, tls, max_body_bytes, max_batch_events, max_header_bytes, max_connections, "
          "header_timeout, "
          "body_timeout, idle_timeout, write_timeout, shutdown_timeout, auth, ons");
  allowed("server: { tls: { zzz: 1 } }", "server.tls.zzz", "cert_file, key_file");
  allowed("server: { auth: { zzz: 1 } }", "server.auth.zzz", "basic, bearer_tokens");
  allowed("server: { auth: { basic: [{ zzz: 1 }] } }", "server.auth.basic[0].zzz",
          "username, password");
  allowed("server: { ons: { zzz: 1 } }", "server.ons.zzz",
          "auto_confirm, confirm_url_hosts, ca_file, confirm_timeout");
  allowed("storage: { zzz: 1 }", "storage.zzz",
          "backend, path, dedupe_window, reserve, max_size, postgresql");
  allowed("log: { zzz: 1 }", "log.zzz",
          "level, file, format, max_size, max_files, flush_interval");
  allowed("admin: { zzz: 1 }", "admin.zzz", "socket");
  allowed(d + "zzz: 1 }]", "destinations[0].zzz",
          "name, url, auth, timeout, retry, tls, concurrency, rate_limit, headers, payload, batch");
  for (const std::string type : {"none", "basic", "oauth2", "oci_signature"}) {
    allowed(d + "auth: { type: " + type + ", zzz: 1 } }]", "destinations[0].auth.zzz",
            "type, username, password, token_url, client_id, client_secret, scope, principal");
  }
  allowed(d + "retry: { zzz: 1 } }]", "destinations[0].retry.zzz",
          "initial_backoff, max_backoff, max_age, max_attempts, retry_on, dead_letter_on");
  allowed(d + "tls: { zzz: 1 } }]", "destinations[0].tls.zzz",
          "ca_file, cert_file, key_file, verify");
  allowed(d + "payload: { zzz: 1 } }]", "destinations[0].payload.zzz", "fields");
  allowed(kDest + "routes: [{ name: r, destinations: [d], zzz: 1 }]", "routes[0].zzz",
          "name, match, compartment, bucket, event_types, destinations");
}

TEST_CASE("duplicate keys are errors", "[config][errors]") {
  const auto e = only_error("log:\n  level: info\n  level: debug\n", "log.level", "duplicate key");
  CHECK(e.line == 3);
  CHECK_THAT(e.message, Catch::Contains("first given on line 2"));
  only_error(R"({"log": {"level": "info", "level": "debug"}})", "log.level", "duplicate key",
             "c.json");
  only_error(kDest + "routes: [{ name: r, destinations: [d], match: { a: x, a: y } }]",
             "routes[0].match.a", "duplicate key");
}

TEST_CASE("wrong types say what was expected", "[config][errors]") {
  only_error("server: [a, b]", "server", "expected a mapping");
  only_error("server: { listen: [1] }", "server.listen", "expected a string, got a sequence");
  only_error("server: { ons: { auto_confirm: maybe } }", "server.ons.auto_confirm",
             "expected true or false, got 'maybe'");
  only_error("server: { ons: { auto_confirm: \"true\" } }", "server.ons.auto_confirm",
             "expected true or false, got a string 'true'");
  only_error(R"({"server": {"ons": {"auto_confirm": "yes"}}})", "server.ons.auto_confirm",
             "expected true or false", "c.json");
  only_error(R"({"server": {"max_body_bytes": "1024"}})", "server.max_body_bytes",
             "expected a positive whole number, got a string '1024'", "c.json");
  only_error(R"({"server": {"listen": {"host": "x"}}})", "server.listen",
             "expected a string, got a mapping", "c.json");
  only_error("destinations: { name: d }", "destinations", "expected a sequence of destination");
  only_error("routes: r", "routes", "expected a sequence of route mappings, got 'r'");
  only_error("destinations: [ just-a-name ]", "destinations[0]", "expected a mapping");
  only_error("- a\n- b\n", "", "expected a mapping with keys server, storage, log");
  only_error(kDest + "routes: [{ name: r, destinations: d }]", "routes[0].destinations",
             "expected a sequence of destination names");
  only_error("server: { auth: { bearer_tokens: tok } }", "server.auth.bearer_tokens",
             "expected a sequence of strings");
}

TEST_CASE("missing required keys are named", "[config][errors]") {
  auto errors = errors_of("destinations:\n  - timeout: 5s\nroutes:\n  - match: {}\n");
  INFO(dump(errors));
  CHECK_THAT(error_at(errors, "destinations[0].name").message,
             Catch::Contains("required key 'name' is missing"));
  CHECK_THAT(error_at(errors, "destinations[0].url").message,
             Catch::Contains("required key 'url' is missing"));
  CHECK(error_at(errors, "routes[0].name").line == 4);
  CHECK_THAT(error_at(errors, "routes[0].destinations").message,
             Catch::Contains("required key 'destinations' is missing"));
  CHECK(errors.size() == 4);

  const TempDir dir;
  const auto cert = dir.write("cert.pem", "pem");
  only_error("server:\n  tls:\n    cert_file: " + cert + "\n", "server.tls.key_file",
             "required key 'key_file' is missing");
}

TEST_CASE("bad durations quote the text as written", "[config][errors]") {
  for (const char* bad : {"30", "30 s", "1.5s", "5sec", "-1s", "s", "5S"}) {
    INFO(bad);
    const auto e = only_error(std::string("storage: { dedupe_window: \"") + bad + "\" }",
                              "storage.dedupe_window", std::string("bad duration '") + bad + "'");
    CHECK_THAT(e.message, Catch::Contains("ms, s, m, h or d"));
  }
  only_error("destinations: [{ name: d, url: \"http://h/\", timeout: 0s }]",
             "destinations[0].timeout", "must be greater than 0");
  only_error("server: { header_timeout: [1s] }", "server.header_timeout", "expected a duration");
  only_error(R"({"storage": {"dedupe_window": 30}})", "storage.dedupe_window", "bad duration '30'",
             "c.json");
}

TEST_CASE("bad sizes quote the text as written and name the key", "[config][errors]") {
  for (const char* bad : {"64 MiB", "64mb", "-1", "1.5GiB", "MiB", "64MiBs", "20000000TiB"}) {
    INFO(bad);
    for (const char* key : {"storage.reserve", "storage.max_size", "log.max_size"}) {
      const std::string section(key, std::string_view(key).find('.'));
      const std::string field(std::string_view(key).substr(section.size() + 1));
      const auto e = only_error(section + ": { " + field + ": \"" + bad + "\" }", key,
                                std::string("bad size '") + bad + "'");
      CHECK_THAT(e.message, Catch::Contains("KiB, MiB, GiB or TiB"));
    }
  }
  only_error("storage: { reserve: [64MiB] }", "storage.reserve", "expected a size such as 64MiB");
  only_error(R"({"storage": {"max_size": true}})", "storage.max_size", "bad size 'true'", "c.json");
}

TEST_CASE("storage.max_size below 1MiB is refused, 0 means no quota", "[config][errors]") {
  for (const char* small : {"1", "512KiB", "1048575", "1023KiB"}) {
    INFO(small);
    const auto e = only_error(std::string("storage:\n  max_size: ") + small + "\n",
                              "storage.max_size", std::string("bad size '") + small + "'");
    CHECK_THAT(e.message, Catch::Contains("at least 1MiB") && Catch::Contains("0 for no quota"));
    CHECK(e.line == 2);
  }
}

TEST_CASE("bad listen addresses", "[config][errors]") {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"8443", "expected host:port"},
           {":8443", "missing host"},
           {"0.0.0.0", "expected host:port"},
           {"0.0.0.0:", "port must be a number from 0 to 65535"},
           {"0.0.0.0:65536", "port must be a number from 0 to 65535"},
           {"0.0.0.0:-1", "port must be a number from 0 to 65535"},
           {"0.0.0.0:http", "port must be a number from 0 to 65535"},
           {"::1:8443", "IPv6 address must be in brackets"},
           {"[::1]8443", "expected a port after the address"},
           {"[::1:8443", "closing ']'"},
           {"[nope]:8443", "not a valid IPv6 address"},
           {"999.0.0.1:80", "not a valid IPv4 address"},
           {"bad_host!:80", "not a valid host name"},
       }) {
    INFO(c.text);
    const auto e =
        only_error(std::string("server:\n  listen: \"") + c.text + "\"\n", "server.listen", c.why);
    CHECK_THAT(e.message, Catch::Contains(std::string("bad listen address '") + c.text + "'"));
    CHECK(e.line == 2);
    CHECK(e.column == 11);
  }
}

TEST_CASE("bad destination URLs", "[config][errors]") {
  struct Case {
    const char* url;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"ftp://h/x", "must start with http:// or https://"},
           {"oic.example.com/x", "must start with http:// or https://"},
           {"HTTPS://h/x", "must start with http:// or https://"},
           {"https://", "has no host"},
           {"https:///path", "has no host"},
           {"https://:443/x", "has no host"},
           {"https://user:pw@h/x", "must not contain credentials"},
           {"https://h:0/x", "invalid port"},
           {"https://h:99999/x", "invalid port"},
           {"https://h:x/", "invalid port"},
           {"https://h/x y", "spaces"},
           {"https://h/x#frag", "fragment"},
           {"https://[::1/x", "closing ']'"},
           {"https://bad_host!/x", "invalid host name"},
       }) {
    INFO(c.url);
    only_error(std::string("destinations: [{ name: d, url: \"") + c.url + "\" }]",
               "destinations[0].url", c.why);
  }
  // Accepted forms.
  for (const char* ok :
       {"http://h", "https://h:8443/p?q=1", "https://[::1]:9/x", "http://10.0.0.1/"}) {
    INFO(ok);
    CHECK(parse_config(std::string("destinations: [{ name: d, url: \"") + ok + "\" }]", "t.yaml",
                       fake_secrets())
              .ok());
  }
  // Credentials are never echoed back, even as written.
  const auto e = only_error("destinations: [{ name: d, url: \"https://relay:hunter2@h/x\" }]",
                            "destinations[0].url", "use the destination's auth");
  CHECK_THAT(e.message, !Catch::Contains("hunter2"));
  CHECK_THAT(e.message, Catch::Contains("'https://***@h/x'"));
}

TEST_CASE("routes must name existing destinations, at least one", "[config][errors]") {
  const auto e = only_error(
      "destinations:\n  - { name: oic-a, url: \"http://h/\" }\n  - { name: oic-b, url: "
      "\"http://h/\" }\nroutes:\n  - { name: r0, destinations: [oic-a] }\n  - { name: r1, "
      "destinations: [oic-a, oic-c] }\n",
      "routes[1].destinations[1]", "unknown destination 'oic-c'");
  CHECK_THAT(e.message, Catch::Contains("configured destinations: oic-a, oic-b"));
  CHECK_THAT(e.message, Catch::Contains("did you mean"));
  CHECK(e.line == 6);

  only_error("routes: [{ name: r, destinations: [x] }]", "routes[0].destinations[0]",
             "no destinations are configured");
  only_error(kDest + "routes: [{ name: r, destinations: [] }]", "routes[0].destinations",
             "at least one destination");
  only_error(kDest + "routes: [{ name: r }]", "routes[0].destinations",
             "required key 'destinations' is missing");
  only_error(kDest + "routes: [{ name: r, destinations: }]", "routes[0].destinations",
             "has no value");
}

TEST_CASE("duplicate destination and route names", "[config][errors]") {
  const auto errors = errors_of(R"(
destinations:
  - { name: a, url: "http://h/" }
  - { name: b, url: "http://h/" }
  - { name: a, url: "http://h/" }
routes:
  - { name: r, destinations: [a] }
  - { name: r, destinations: [b] }
)");
  INFO(dump(errors));
  REQUIRE(errors.size() == 2);
  const auto d = error_at(errors, "destinations[2].name");
  CHECK_THAT(d.message, Catch::Contains("duplicate destination name 'a'") &&
                            Catch::Contains("destinations[0].name"));
  CHECK(d.line == 5);
  const auto r = error_at(errors, "routes[1].name");
  CHECK_THAT(r.message, Catch::Contains("duplicate route name 'r'"));
}

TEST_CASE("names are kept to a safe alphabet", "[config][errors]") {
  only_error("destinations: [{ name: \"oic invoices\", url: \"http://h/\" }]",
             "destinations[0].name", "bad name 'oic invoices'");
  only_error("destinations: [{ name: \"\", url: \"http://h/\" }]", "destinations[0].name",
             "bad name ''");
}

TEST_CASE("unreadable TLS files are reported with the reason", "[config][errors]") {
  const TempDir dir;
  const auto good = dir.write("good.pem", "pem");
  const auto empty = dir.write("empty.pem", "");
  const auto missing = dir.file("missing.pem");
  const auto errors = errors_of("server:\n  tls:\n    cert_file: " + missing + "\n    key_file: " +
                                dir.path().string() + "\n  ons:\n    ca_file: " + empty +
                                "\ndestinations:\n  - name: d\n    url: https://h/\n    tls: { "
                                "ca_file: " +
                                missing + " }\n");
  INFO(dump(errors));
  REQUIRE(errors.size() == 4);
  const auto cert = error_at(errors, "server.tls.cert_file");
  CHECK_THAT(cert.message, Catch::Contains("cannot read TLS certificate file '" + missing + "'") &&
                               Catch::Contains("No such file or directory"));
  CHECK(cert.line == 3);
  CHECK_THAT(error_at(errors, "server.tls.key_file").message,
             Catch::Contains("TLS private key") && Catch::Contains("not a regular file"));
  CHECK_THAT(error_at(errors, "server.ons.ca_file").message, Catch::Contains("empty"));
  CHECK_THAT(error_at(errors, "destinations[0].tls.ca_file").message,
             Catch::Contains("CA certificate"));

  if (::geteuid() != 0) {  // root reads anything
    const auto locked = dir.write("locked.pem", "pem");
    ::chmod(locked.c_str(), 0);
    only_error("server: { tls: { cert_file: " + good + ", key_file: " + locked + " } }",
               "server.tls.key_file", "Permission denied");
  }
}

TEST_CASE("log levels and auth types are checked", "[config][errors]") {
  only_error("log: { level: verbose }", "log.level",
             "bad log level 'verbose'; expected one of trace, debug, info, warn, error");
  only_error("log: { level: INFO }", "log.level", "bad log level 'INFO'");
  only_error("log: { flush_interval: soon }", "log.flush_interval", "bad duration 'soon'");
  only_error("destinations: [{ name: d, url: \"http://h/\", auth: { type: oauth } }]",
             "destinations[0].auth.type",
             "bad auth type 'oauth'; expected none, basic, oauth2 or oci_signature");
}

TEST_CASE("basic auth needs a username and a password", "[config][errors]") {
  const auto errors =
      errors_of("destinations: [{ name: d, url: \"http://h/\", auth: { type: basic } }]");
  INFO(dump(errors));
  REQUIRE(errors.size() == 2);
  CHECK_THAT(error_at(errors, "destinations[0].auth.username").message, Catch::Contains("missing"));
  CHECK_THAT(error_at(errors, "destinations[0].auth.password").message, Catch::Contains("missing"));

  only_error("destinations: [{ name: d, url: \"http://h/\", auth: { username: u } }]",
             "destinations[0].auth.username", "only used with type: basic");
  only_error(
      "destinations: [{ name: d, url: \"http://h/\", auth: { type: basic, username: "
      "\"a:b\", password: p } }]",
      "destinations[0].auth.username", "must not contain ':'");
  only_error(
      "destinations: [{ name: d, url: \"http://h/\", auth: { type: basic, username: u, "
      "password: \"\" } }]",
      "destinations[0].auth.password", "must not be empty");
  only_error("server: { auth: { basic: [{ username: ons }] } }", "server.auth.basic[0].password",
             "required key 'password' is missing");
  only_error("server: { auth: {} }", "server.auth", "configures no credentials");
  only_error("server: { auth: { bearer_tokens: [\"\"] } }", "server.auth.bearer_tokens[0]",
             "must not be empty");
}

TEST_CASE("counts must be positive and in range", "[config][errors]") {
  for (const char* bad : {"0", "-1", "1.5", "1e6", "lots", "99999999999999999999999"}) {
    INFO(bad);
    only_error(std::string("server: { max_body_bytes: ") + bad + " }", "server.max_body_bytes",
               "positive whole number");
    only_error(std::string("server: { max_batch_events: ") + bad + " }",
               "server.max_batch_events", "positive whole number");
  }
  for (const char* bad : {"0", "1025", "-4"}) {
    INFO(bad);
    only_error(
        std::string("destinations: [{ name: d, url: \"http://h/\", concurrency: ") + bad + " }]",
        "destinations[0].concurrency", "a whole number from 1 to 1024");
  }
}

TEST_CASE("an invalid match condition is reported under the route's path", "[config][errors]") {
  const auto e = only_error(kDest + R"(routes:
  - name: r
    destinations: [d]
    match:
      data:
        additionalDetails:
          bucketName: [a, [nested]]
)",
                            "routes[0].match.data.additionalDetails.bucketName[1]",
                            "must be a string, number or boolean");
  CHECK(e.line == 8);
  only_error(kDest + "routes: [{ name: r, destinations: [d], match: { eventType: [] } }]",
             "routes[0].match.eventType", "empty array");
  only_error(kDest + "routes: [{ name: r, destinations: [d], match: { eventType: ~ } }]",
             "routes[0].match.eventType", "must not be null");
  only_error(kDest + "routes: [{ name: r, destinations: [d], match: [a] }]", "routes[0].match",
             "expected a mapping (an OCI Events rule condition)");
  only_error(kDest + "routes: [{ name: r, destinations: [d], bucket: [] }]", "routes[0].bucket",
             "must not be an empty sequence");
  only_error(kDest + "routes: [{ name: r, destinations: [d], event_types: { a: b } }]",
             "routes[0].event_types", "expected a string or a sequence of strings");
}

TEST_CASE("backoffs must be ordered", "[config][errors]") {
  const auto e = only_error(
      "destinations:\n  - name: d\n    url: http://h/\n    retry:\n      initial_backoff: 10m\n    "
      "  "
      "max_backoff: 1m\n",
      "destinations[0].retry.initial_backoff",
      "initial_backoff (10m) must not be greater than max_backoff (1m)");
  CHECK(e.line == 5);
  // Against the default max_backoff (5m).
  only_error("destinations: [{ name: d, url: \"http://h/\", retry: { initial_backoff: 6m } }]",
             "destinations[0].retry.initial_backoff", "max_backoff (5m)");
}

TEST_CASE("ONS host patterns are host names", "[config][errors]") {
  only_error("server: { ons: { confirm_url_hosts: [\"https://*.oraclecloud.com\"] } }",
             "server.ons.confirm_url_hosts[0]", "bad host pattern 'https://*.oraclecloud.com'");
}

TEST_CASE("secret reference errors name the key and the reference", "[config][errors]") {
  const auto errors = errors_of(R"(
server:
  auth:
    bearer_tokens: ["${env:MISSING_TOKEN}"]
destinations:
  - name: d
    url: http://h/
    auth: { type: basic, username: u, password: "${file:/run/secrets/oic}" }
log: { file: "${ssm:x}" }
)");
  INFO(dump(errors));
  REQUIRE(errors.size() == 3);
  const auto token = error_at(errors, "server.auth.bearer_tokens[0]");
  CHECK_THAT(token.message, Catch::Contains("MISSING_TOKEN") && Catch::Contains("not set"));
  CHECK(token.line == 4);
  CHECK_THAT(error_at(errors, "destinations[0].auth.password").message,
             Catch::Contains("/run/secrets/oic"));
  CHECK_THAT(error_at(errors, "log.file").message,
             Catch::Contains("unknown secret reference scheme"));
}

TEST_CASE("all errors are collected, in file order, with YAML positions", "[config][errors]") {
  const std::string text =
      "server:\n"                    // 1
      "  listen: \"nope\"\n"         // 2
      "  max_body_bytes: 0\n"        // 3
      "  bogus: 1\n"                 // 4
      "storage:\n"                   // 5
      "  dedupe_window: 1 day\n"     // 6
      "log:\n"                       // 7
      "  level: loud\n"              // 8
      "destinations:\n"              // 9
      "  - name: d\n"                // 10
      "    url: ftp://x/\n"          // 11
      "    timeout: soon\n"          // 12
      "    concurrency: 0\n"         // 13
      "routes:\n"                    // 14
      "  - name: r\n"                // 15
      "    destinations: [d, e]\n";  // 16
  const auto errors = errors_of(text, "relay.yaml");
  INFO(dump(errors));
  const std::vector<std::pair<std::string, int>> expected{{"server.listen", 2},
                                                          {"server.max_body_bytes", 3},
                                                          {"server.bogus", 4},
                                                          {"storage.dedupe_window", 6},
                                                          {"log.level", 8},
                                                          {"destinations[0].url", 11},
                                                          {"destinations[0].timeout", 12},
                                                          {"destinations[0].concurrency", 13},
                                                          {"routes[0].destinations[1]", 16}};
  REQUIRE(errors.size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    CHECK(errors[i].path == expected[i].first);
    CHECK(errors[i].line == expected[i].second);
    CHECK(errors[i].file == "relay.yaml");
  }
  CHECK(errors[0].to_string() ==
        "relay.yaml:2:11: server.listen: bad listen address 'nope': expected host:port, as in "
        "0.0.0.0:8443 or [::]:8443");
  CHECK(errors[4].column == 10);
}

TEST_CASE("JSON errors carry the key path and the position", "[config][errors]") {
  const std::string text = R"({
  "server": {"listen": "0.0.0.0:99999"},
  "destinations": [
    {"name": "d", "url": "http://h/", "retry": {"max_age": "forever"}}
  ],
  "routes": [{"name": "r", "destinations": ["d"], "match": {"data": {"x": [1, {"y": 2}]}}}]
})";
  const auto errors = errors_of(text, "relay.json");
  INFO(dump(errors));
  REQUIRE(errors.size() == 3);
  const auto listen = error_at(errors, "server.listen");
  CHECK(listen.line == 2);
  CHECK(listen.column == 24);
  const auto age = error_at(errors, "destinations[0].retry.max_age");
  CHECK(age.line == 4);
  CHECK_THAT(age.message, Catch::Contains("bad duration 'forever'"));
  const auto match = error_at(errors, "routes[0].match.data.x[1]");
  CHECK(match.line == 6);
}

TEST_CASE("syntax errors carry positions", "[config][errors]") {
  SECTION("YAML") {
    const auto errors = errors_of("server:\n  listen: [a\nlog: {}\n", "bad.yaml");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].path.empty());
    CHECK(errors[0].line == 3);
    CHECK_THAT(errors[0].message, Catch::StartsWith("YAML syntax error"));
    CHECK_THAT(errors[0].to_string(), Catch::StartsWith("bad.yaml:3:"));
  }
  SECTION("JSON, strictly") {
    const auto errors = errors_of("{\n  \"log\": {\"level\": \"info\",}\n}\n", "bad.json");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == 2);
    CHECK_THAT(errors[0].message, Catch::StartsWith("JSON syntax error at offset"));
    for (const char* bad : {"", "{} {}", "{\"a\": 1 // c\n}", "{'a': 1}", "[1,]", "{\"a\":01}"}) {
      INFO(bad);
      CHECK(errors_of(bad, "bad.json").size() == 1);
    }
  }
  SECTION("JSON is not read as YAML, nor YAML as JSON") {
    CHECK_THAT(errors_of("log:\n  level: info\n", "c.json")[0].message,
               Catch::Contains("JSON syntax error"));
  }
  SECTION("absurd nesting is refused, not a crash") {
    const std::string deep_json = std::string(10000, '[') + std::string(10000, ']');
    CHECK_THAT(errors_of(deep_json, "deep.json")[0].message, Catch::Contains("nests deeper"));
    const std::string deep_yaml = "a: " + std::string(500, '[') + std::string(500, ']');
    CHECK(errors_of(deep_yaml, "deep.yaml").size() == 1);
  }
}

TEST_CASE("no resolved secret ever appears in an error message", "[config][errors]") {
  // Every value below comes from a secret and is wrong in some way; each
  // secret value is distinctive, so any leak shows.
  const std::vector<std::string> secret_values{"SECRET-LISTEN-999.1.1.1:99999",
                                               "https://SECRET-USER:SECRET-PW@oic.example.com/x",
                                               "SECRET-LEVEL",
                                               "/SECRET-PATH/cert.pem",
                                               "SECRET-NAME with spaces",
                                               "SECRET-DEST",
                                               "SECRET:USER",
                                               "SECRET-BUCKET",
                                               "SECRET-HOST/path",
                                               "SECRET-TYPE"};
  const auto secrets =
      fake_secrets({{"LISTEN", secret_values[0]},
                    {"URL", secret_values[1]},
                    {"LEVEL", secret_values[2]},
                    {"CERT", secret_values[3]},
                    {"NAME", secret_values[4]},
                    {"DEST", secret_values[5]},
                    {"AUTH_TYPE", secret_values[9]}},
                   {{"/s/user", secret_values[6] + "\n"}, {"/s/host", secret_values[8]}});
  const std::string text = R"(
server:
  listen: "${env:LISTEN}"
  tls: { cert_file: "${env:CERT}", key_file: "x-${env:CERT}" }
  ons: { confirm_url_hosts: ["${file:/s/host}"] }
log: { level: "${env:LEVEL}", file: "${env:MISSING}" }
destinations:
  - name: "${env:NAME}"
    url: "${env:URL}"
  - name: ok
    url: "http://h/"
    auth: { type: basic, username: "${file:/s/user}", password: "${env:MISSING}" }
  - name: ok2
    url: "http://h/"
    auth: { type: "${env:AUTH_TYPE}" }
routes:
  - name: r
    destinations: ["${env:DEST}", "ok"]
)";
  for (const std::string name : {"leak.yaml", "leak.json"}) {
    std::string input = text;
    if (name == "leak.json") {
      input = R"({"server": {"listen": "${env:LISTEN}",
        "tls": {"cert_file": "${env:CERT}", "key_file": "x-${env:CERT}"},
        "ons": {"confirm_url_hosts": ["${file:/s/host}"]}},
       "log": {"level": "${env:LEVEL}", "file": "${env:MISSING}"},
       "destinations": [{"name": "${env:NAME}", "url": "${env:URL}"},
         {"name": "ok", "url": "http://h/",
          "auth": {"type": "basic", "username": "${file:/s/user}", "password": "${env:MISSING}"}},
         {"name": "ok2", "url": "http://h/", "auth": {"type": "${env:AUTH_TYPE}"}}],
       "routes": [{"name": "r", "destinations": ["${env:DEST}", "ok"]}]})";
    }
    auto result = parse_config(input, name, secrets);
    REQUIRE_FALSE(result.ok());
    const auto& errors = result.error();
    INFO(dump(errors));
    // One error per bad field: listen, cert, key, host pattern, level, log
    // file, name, url, username, password, auth type, unknown destination.
    CHECK(errors.size() == 12);
    for (const auto& e : errors) {
      const std::string all = e.to_string();
      for (const auto& secret : secret_values) {
        CHECK_THAT(all, !Catch::Contains(secret));
      }
      CHECK_THAT(all, !Catch::Contains("SECRET"));
    }
    // The messages quote the references instead.
    CHECK_THAT(error_at(errors, "server.listen").message, Catch::Contains("'${env:LISTEN}'"));
    CHECK_THAT(error_at(errors, "destinations[0].url").message, Catch::Contains("'${env:URL}'"));
    CHECK_THAT(error_at(errors, "routes[0].destinations[0]").message,
               Catch::Contains("'${env:DEST}'"));
  }
}
