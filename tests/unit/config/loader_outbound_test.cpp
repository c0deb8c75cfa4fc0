// The outbound keys of a destination (issue #3): auth type oauth2, tls with a
// client certificate and verify, extra headers and payload shaping. Valid
// configurations load into the expected values; every problem names its key
// path and position; no secret appears in any message.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

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
  static const SecretSources s = fake_secrets({{"OIC_CLIENT_SECRET", "cl1ent-s3cret"},
                                               {"OIC_CLIENT_ID", "0123456789abcdef"},
                                               {"API_KEY", "k3y-s3cret"},
                                               {"BAD_HEADER", "line1\r\nX-Injected: yes"},
                                               {"EMPTY", ""}},
                                              {{"/run/secrets/oic", "f1le-s3cret\n"}});
  return s;
}

Config parse_ok(const std::string& text, const std::string& name = "test.yaml") {
  auto result = parse_config(text, name, secrets());
  INFO(text);
  INFO((result.ok() ? std::string() : dump(result.error())));
  REQUIRE(result.ok());
  return std::move(result).value();
}

ConfigErrors errors_of(const std::string& text, const std::string& name = "test.yaml") {
  auto result = parse_config(text, name, secrets());
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

ConfigError error_at(const ConfigErrors& errors, const std::string& path) {
  INFO(dump(errors));
  std::vector<ConfigError> found;
  for (const auto& e : errors) {
    if (e.path == path) found.push_back(e);
  }
  REQUIRE(found.size() == 1);
  return found[0];
}

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

// One destination "d" with these extra lines (indented by four spaces).
std::string dest(const std::string& extra) {
  return "destinations:\n  - name: d\n    url: https://oic.example.com/ic/api/flow\n" + extra;
}

const std::string kOAuth2 =
    "    auth:\n"
    "      type: oauth2\n"
    "      token_url: https://idcs-1234.identity.oraclecloud.com/oauth2/v1/token\n"
    "      client_id: \"${env:OIC_CLIENT_ID}\"\n"
    "      client_secret: \"${env:OIC_CLIENT_SECRET}\"\n"
    "      scope: \"https://oic.example.com:443urn:opc:resource:consumer::all\"\n";

}  // namespace

// ------------------------------------------------------------------ oauth2 --

TEST_CASE("oauth2 auth loads with its secret resolved", "[config][outbound]") {
  const Config c = parse_ok(dest(kOAuth2));
  const DestinationAuth& a = c.destinations.at(0).auth;
  CHECK(a.type == DestinationAuth::Type::oauth2);
  CHECK(a.token_url == "https://idcs-1234.identity.oraclecloud.com/oauth2/v1/token");
  CHECK(a.client_id == "0123456789abcdef");
  CHECK(a.client_secret == "cl1ent-s3cret");
  CHECK(a.scope == "https://oic.example.com:443urn:opc:resource:consumer::all");
  CHECK(a.username.empty());
  CHECK(a.password.empty());

  const Config f =
      parse_ok(dest("    auth: { type: oauth2, token_url: \"http://127.0.0.1:9/t\", "
                    "client_id: c, client_secret: \"${file:/run/secrets/oic}\", "
                    "scope: s }\n"));
  CHECK(f.destinations.at(0).auth.client_secret == "f1le-s3cret");
  CHECK(f.destinations.at(0).auth.token_url == "http://127.0.0.1:9/t");
}

TEST_CASE("oauth2 auth in JSON", "[config][outbound]") {
  const Config c = parse_ok(R"({"destinations": [{"name": "d", "url": "https://h/f",
    "auth": {"type": "oauth2", "token_url": "https://idcs/oauth2/v1/token", "client_id": "id",
             "client_secret": "${env:OIC_CLIENT_SECRET}", "scope": "urn:x"}}]})",
                            "c.json");
  CHECK(c.destinations.at(0).auth.type == DestinationAuth::Type::oauth2);
  CHECK(c.destinations.at(0).auth.client_secret == "cl1ent-s3cret");
}

TEST_CASE("oauth2 needs token_url, client_id, client_secret and scope", "[config][outbound]") {
  const auto errors = errors_of(dest("    auth:\n      type: oauth2\n"));
  INFO(dump(errors));
  CHECK(errors.size() == 4);
  for (const char* key : {"token_url", "client_id", "client_secret", "scope"}) {
    CHECK_THAT(error_at(errors, std::string("destinations[0].auth.") + key).message,
               Catch::Contains(std::string("required key '") + key + "' is missing"));
  }
  const auto empty =
      errors_of(dest("    auth: { type: oauth2, token_url: \"https://i/t\", client_id: \"\", "
                     "client_secret: \"${env:EMPTY}\", scope: \"\" }\n"));
  CHECK(empty.size() == 3);
  CHECK_THAT(error_at(empty, "destinations[0].auth.client_id").message,
             Catch::Contains("must not be empty"));
  CHECK_THAT(error_at(empty, "destinations[0].auth.client_secret").message,
             Catch::Contains("must not be empty"));
  CHECK_THAT(error_at(empty, "destinations[0].auth.scope").message,
             Catch::Contains("must not be empty"));
}

TEST_CASE("oauth2 values are checked", "[config][outbound]") {
  const std::string rest = ", client_secret: x, scope: s }\n";
  only_error(dest("    auth: { type: oauth2, token_url: \"ftp://idcs/t\", client_id: c" + rest),
             "destinations[0].auth.token_url", "must start with http:// or https://");
  const auto creds = only_error(
      dest("    auth: { type: oauth2, token_url: \"https://u:pw-in-url@idcs/t\", client_id: c" +
           rest),
      "destinations[0].auth.token_url", "must not contain credentials");
  CHECK_THAT(creds.message, !Catch::Contains("pw-in-url"));
  only_error(
      dest("    auth: { type: oauth2, token_url: \"https://idcs/t\", client_id: \"a:b\"" + rest),
      "destinations[0].auth.client_id", "must not contain ':'");
  // The instance metadata service's address is not a token endpoint.
  only_error(
      dest("    auth: { type: oauth2, token_url: \"http://169.254.169.254/t\", client_id: c" +
           rest),
      "destinations[0].auth.token_url", "is a link-local address");
}

TEST_CASE("a destination URL may not be a link-local address", "[config][outbound]") {
  for (const char* url : {"http://169.254.169.254/opc/v2/instance/", "https://[fe80::1]:443/x"}) {
    only_error(std::string("destinations:\n  - name: d\n    url: \"") + url + "\"\n",
               "destinations[0].url", "is a link-local address");
  }
}

TEST_CASE("keys of one auth type are rejected under another", "[config][outbound]") {
  const auto with_user = errors_of(dest(kOAuth2 + "      username: u\n      password: p\n"));
  CHECK(with_user.size() == 2);
  CHECK_THAT(error_at(with_user, "destinations[0].auth.username").message,
             Catch::Contains("only used with type: basic (this auth is type: oauth2)"));
  const auto e = only_error(dest("    auth: { type: basic, username: u, password: p, scope: s }\n"),
                            "destinations[0].auth.scope",
                            "only used with type: oauth2 (this auth is type: basic)");
  CHECK(e.line == 4);
  only_error(dest("    auth: { token_url: \"https://i/t\" }\n"), "destinations[0].auth.token_url",
             "only used with type: oauth2 (this auth is type: none)");
  const auto typo = errors_of(dest("    auth: { type: oauth2, token_uri: x }\n"));
  CHECK_THAT(error_at(typo, "destinations[0].auth.token_uri").message,
             Catch::Contains("did you mean 'token_url'?"));
}

// --------------------------------------------------------------------- tls --

TEST_CASE("tls takes a client certificate and verify", "[config][outbound]") {
  const TempDir dir;
  const auto ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  const auto cert = dir.write("client.crt", "-----BEGIN CERTIFICATE-----\n");
  const auto key = dir.write("client.key", "-----BEGIN PRIVATE KEY-----\n");
  const Config c = parse_ok(dest("    tls:\n      ca_file: " + ca + "\n      cert_file: " + cert +
                                 "\n      key_file: " + key + "\n      verify: false\n"));
  const DestinationTls& t = c.destinations.at(0).tls;
  CHECK(t.ca_file == ca);
  CHECK(t.cert_file == cert);
  CHECK(t.key_file == key);
  CHECK_FALSE(t.verify);

  const Config defaults = parse_ok(dest("    tls: { ca_file: " + ca + " }\n"));
  CHECK(defaults.destinations.at(0).tls.verify);
  CHECK(defaults.destinations.at(0).tls.cert_file.empty());
  CHECK(parse_ok(dest("")).destinations.at(0).tls == DestinationTls{});
}

TEST_CASE("tls files must be readable, certificate and key together", "[config][outbound]") {
  const TempDir dir;
  const auto cert = dir.write("client.crt", "-----BEGIN CERTIFICATE-----\n");
  const auto key = dir.write("client.key", "-----BEGIN PRIVATE KEY-----\n");
  only_error(dest("    tls: { cert_file: " + cert + " }\n"), "destinations[0].tls.cert_file",
             "cert_file needs key_file");
  only_error(dest("    tls: { key_file: " + key + " }\n"), "destinations[0].tls.key_file",
             "key_file needs cert_file");
  const auto missing = only_error(
      dest("    tls: { cert_file: " + dir.file("nope.crt") + ", key_file: " + key + " }\n"),
      "destinations[0].tls.cert_file", "cannot read client certificate file");
  CHECK_THAT(missing.message, Catch::Contains("No such file or directory"));
  const auto empty = dir.write("empty.key", "");
  only_error(dest("    tls: { cert_file: " + cert + ", key_file: " + empty + " }\n"),
             "destinations[0].tls.key_file", "the file is empty");
  only_error(dest("    tls: { verify: maybe }\n"), "destinations[0].tls.verify",
             "expected true or false, got 'maybe'");
  only_error(dest("    tls: { verfy: false }\n"), "destinations[0].tls.verfy",
             "did you mean 'verify'?");
}

// ----------------------------------------------------------------- headers --

TEST_CASE("extra headers load in order, secret references resolved", "[config][outbound]") {
  const Config c =
      parse_ok(dest("    headers:\n"
                    "      X-Api-Key: \"${env:API_KEY}\"\n"
                    "      X-Source: ocirelay\n"
                    "      x_custom.Header~1: \"a value, with: punctuation\"\n"
                    "      X-Empty: \"\"\n"));
  const auto& h = c.destinations.at(0).headers;
  REQUIRE(h.size() == 4);
  CHECK(h[0] == DestinationHeader{"X-Api-Key", "k3y-s3cret"});
  CHECK(h[1] == DestinationHeader{"X-Source", "ocirelay"});
  CHECK(h[2] == DestinationHeader{"x_custom.Header~1", "a value, with: punctuation"});
  CHECK(h[3] == DestinationHeader{"X-Empty", ""});
  CHECK(parse_ok(dest("    headers: {}\n")).destinations.at(0).headers.empty());
  const Config j = parse_ok(
      R"({"destinations": [{"name": "d", "url": "http://h/", "headers": {"X-A": "1", "X-B": "2"}}]})",
      "c.json");
  CHECK(j.destinations.at(0).headers == std::vector<DestinationHeader>{{"X-A", "1"}, {"X-B", "2"}});
}

TEST_CASE("header names are HTTP tokens and not the relay's own", "[config][outbound]") {
  const auto space = only_error(dest("    headers:\n      \"X Bad\": v\n"),
                                "destinations[0].headers.X Bad", "bad header name 'X Bad'");
  CHECK(space.line == 5);
  only_error(dest("    headers: { \"X:Y\": v }\n"), "destinations[0].headers.X:Y",
             "bad header name");
  only_error(dest("    headers: { \"\": v }\n"), "destinations[0].headers.", "bad header name");
  only_error(dest("    headers: { \"Caf\xc3\xa9\": v }\n"), "destinations[0].headers.Caf\xc3\xa9",
             "bad header name");
  for (const char* reserved : {"Content-Type", "content-length", "HOST", "Authorization",
                               "Idempotency-Key", "Transfer-Encoding", "connection"}) {
    INFO(reserved);
    only_error(dest(std::string("    headers: { ") + reserved + ": v }\n"),
               std::string("destinations[0].headers.") + reserved,
               "is set by the relay and cannot be configured");
  }
  only_error(dest("    headers: { Authorization: \"Bearer x\" }\n"),
             "destinations[0].headers.Authorization", "(use auth:)");
  const auto dup = only_error(dest("    headers:\n      X-A: 1\n      x-a: 2\n"),
                              "destinations[0].headers.x-a", "duplicate header 'x-a'");
  CHECK(dup.line == 6);
  only_error(dest("    headers: [X-A]\n"), "destinations[0].headers",
             "expected a mapping of header names to values");
  only_error(dest("    headers: { X-A: }\n"), "destinations[0].headers.X-A", "has no value");
  only_error(dest("    headers: { X-A: [1, 2] }\n"), "destinations[0].headers.X-A",
             "expected a string");
}

TEST_CASE("header values with line breaks are rejected without quoting them",
          "[config][outbound]") {
  const auto from_secret =
      only_error(dest("    headers: { X-Token: \"${env:BAD_HEADER}\" }\n"),
                 "destinations[0].headers.X-Token", "must not contain line breaks");
  CHECK_THAT(from_secret.message, !Catch::Contains("line1"));
  CHECK_THAT(from_secret.message, !Catch::Contains("Injected"));
  only_error(dest("    headers: { X-Token: \"a\\nb\" }\n"), "destinations[0].headers.X-Token",
             "must not contain line breaks");
  CHECK(parse_ok(dest("    headers: { X-Tab: \"a\\tb\" }\n")).destinations[0].headers[0].value ==
        "a\tb");
}

// ----------------------------------------------------------------- payload --

TEST_CASE("payload is raw by default or fields by JSON Pointer", "[config][outbound]") {
  CHECK(parse_ok(dest("")).destinations.at(0).payload == DestinationPayload{});
  CHECK(parse_ok(dest("    payload: raw\n")).destinations.at(0).payload.kind ==
        DestinationPayload::Kind::raw);
  const Config c =
      parse_ok(dest("    payload:\n"
                    "      fields:\n"
                    "        bucket: /data/additionalDetails/bucketName\n"
                    "        object: /data/resourceName\n"
                    "        namespace: /data/additionalDetails/namespace\n"
                    "        all: \"\"\n"
                    "        escaped: \"/a~1b/m~0n/0\"\n"
                    "        fragment: \"#/data/resourceName\"\n"));
  const DestinationPayload& p = c.destinations.at(0).payload;
  CHECK(p.kind == DestinationPayload::Kind::fields);
  CHECK(p.fields == std::vector<std::pair<std::string, std::string>>{
                        {"bucket", "/data/additionalDetails/bucketName"},
                        {"object", "/data/resourceName"},
                        {"namespace", "/data/additionalDetails/namespace"},
                        {"all", ""},
                        {"escaped", "/a~1b/m~0n/0"},
                        {"fragment", "#/data/resourceName"}});
  const Config j = parse_ok(
      R"({"destinations": [{"name": "d", "url": "http://h/",
          "payload": {"fields": {"z": "/eventID", "a": "/eventType"}}}]})",
      "c.json");
  CHECK(j.destinations.at(0).payload.fields ==
        std::vector<std::pair<std::string, std::string>>{{"z", "/eventID"}, {"a", "/eventType"}});
}

TEST_CASE("payload errors name the field", "[config][outbound]") {
  const auto pointer =
      only_error(dest("    payload:\n      fields:\n        object: data/name\n"),
                 "destinations[0].payload.fields.object", "bad JSON Pointer 'data/name'");
  CHECK(pointer.line == 6);
  CHECK_THAT(pointer.message, Catch::Contains("start with '/'"));
  only_error(dest("    payload: { fields: { x: \"/a~2\" } }\n"), "destinations[0].payload.fields.x",
             "'~' must be followed by 0 or 1");
  only_error(dest("    payload: { fields: {} }\n"), "destinations[0].payload.fields",
             "must name at least one field");
  only_error(dest("    payload: { fields: }\n"), "destinations[0].payload.fields",
             "required key 'fields' has no value");
  only_error(dest("    payload: {}\n"), "destinations[0].payload.fields",
             "required key 'fields' is missing");
  only_error(dest("    payload: { fields: [/a] }\n"), "destinations[0].payload.fields",
             "expected a mapping of field names to JSON Pointers");
  only_error(dest("    payload: cooked\n"), "destinations[0].payload",
             "bad payload 'cooked'; expected raw or a mapping");
  const auto typo = errors_of(dest("    payload: { field: { a: /a } }\n"));
  CHECK_THAT(error_at(typo, "destinations[0].payload.field").message,
             Catch::Contains("did you mean 'fields'?"));
  only_error(dest("    payload: { fields: { a: /a, a: /b } }\n"),
             "destinations[0].payload.fields.a", "duplicate field 'a'");
  only_error(dest("    payload: { fields: { a: { b: c } } }\n"), "destinations[0].payload.fields.a",
             "expected a string");
}

// ------------------------------------------------------------------- batch --

TEST_CASE("batch is off by default and loads its limits", "[config][outbound][batch]") {
  const Destination plain = parse_ok(dest("")).destinations.at(0);
  CHECK(plain.batch == DestinationBatch{});
  CHECK_FALSE(plain.batch.enabled());
  CHECK(plain.batch.max_bytes == 51200);
  const Destination d = parse_ok(dest("    batch:\n      max_events: 100\n      max_bytes: 48KiB\n"
                                      "      max_wait: 250ms\n      envelope: items\n"))
                            .destinations.at(0);
  CHECK(d.batch.enabled());
  CHECK(d.batch.max_events == 100);
  CHECK(d.batch.max_bytes == 48 * 1024);
  CHECK(d.batch.max_wait == std::chrono::milliseconds(250));
  CHECK(d.batch.envelope == "items");
  CHECK(parse_ok(dest("    batch: { max_events: 10, envelope: \"\" }\n"))
            .destinations.at(0)
            .batch.envelope.empty());
  CHECK(parse_ok(dest("    batch: { max_events: 1000, max_bytes: 1KiB }\n"))
            .destinations.at(0)
            .batch.max_events == 1000);
}

TEST_CASE("batch errors name the key and the allowed range", "[config][outbound][batch]") {
  const auto events = only_error(dest("    batch:\n      max_events: 0\n"),
                                 "destinations[0].batch.max_events", "1");
  CHECK(events.line == 5);
  only_error(dest("    batch: { max_events: 1001 }\n"), "destinations[0].batch.max_events", "1000");
  only_error(dest("    batch: { max_events: 10, max_bytes: 512 }\n"),
             "destinations[0].batch.max_bytes", "max_bytes '512' is out of range; expected 1KiB");
  only_error(dest("    batch: { max_bytes: 1GiB }\n"), "destinations[0].batch.max_bytes",
             "to 16MiB");
  only_error(dest("    batch: { max_bytes: lots }\n"), "destinations[0].batch.max_bytes", "");
  only_error(dest("    batch: { max_wait: 0s }\n"), "destinations[0].batch.max_wait", "");
  for (const std::string bad : {"\"a b\"", "\"9lives\"", "\"quo\\\"te\"", "\"x.y\""}) {
    only_error(dest("    batch: { envelope: " + bad + " }\n"), "destinations[0].batch.envelope",
               "bad envelope");
  }
  only_error(dest("    batch: { envelope: " + std::string(65, 'e') + " }\n"),
             "destinations[0].batch.envelope", "up to 64");
  const auto typo = errors_of(dest("    batch: { max_event: 5 }\n"));
  CHECK_THAT(error_at(typo, "destinations[0].batch.max_event").message,
             Catch::Contains("did you mean 'max_events'?"));
  only_error(dest("    headers: { X-Event-Count: \"3\" }\n"),
             "destinations[0].headers.X-Event-Count", "");
}

// ----------------------------------------------------------------- secrets --

TEST_CASE("no outbound error message contains a secret", "[config][outbound]") {
  const TempDir dir;
  const std::string text = dest(
      "    auth:\n"
      "      type: oauth2\n"
      "      token_url: \"https://user:${env:OIC_CLIENT_SECRET}@idcs/t\"\n"
      "      client_id: \"${env:OIC_CLIENT_SECRET}:x\"\n"
      "      client_secret: \"${env:OIC_CLIENT_SECRET}\"\n"
      "      scope: \"${env:OIC_CLIENT_SECRET}\\n\"\n"
      "      username: \"${env:API_KEY}\"\n"
      "    tls:\n"
      "      cert_file: \"" +
      dir.path().string() +
      "/${env:API_KEY}.crt\"\n"
      "    headers:\n"
      "      X-Key: \"${env:API_KEY}\\u0001\"\n"
      "      \"Bad Name\": \"${env:API_KEY}\"\n"
      "      Host: \"${file:/run/secrets/oic}\"\n"
      "    payload: { fields: { \"${env:API_KEY}\": \"${env:API_KEY}\" } }\n");
  const ConfigErrors errors = errors_of(text);
  INFO(dump(errors));
  CHECK(errors.size() >= 8);
  for (const auto& e : errors) {
    INFO(e.to_string());
    CHECK(e.line > 0);
    CHECK_THAT(e.to_string(), Catch::StartsWith("test.yaml:"));
    for (const char* secret : {"cl1ent-s3cret", "k3y-s3cret", "f1le-s3cret"}) {
      CHECK_THAT(e.to_string(), !Catch::Contains(secret));
    }
  }
}
