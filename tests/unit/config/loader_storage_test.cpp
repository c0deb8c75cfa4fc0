// storage.backend and storage.postgresql: defaults, values, one backend at a
// time, and the URL (a secret) never in a message.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

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

const std::string kPassword = "pg-pa55word";

const SecretSources& secrets() {
  static const SecretSources s =
      fake_secrets({{"PG_URL", "postgresql://relay:" + kPassword + "@db.example:5432/relay"}},
                   {{"/run/secrets/pg-url", "host=db.example password=" + kPassword + "\n"}});
  return s;
}

const std::string kDest = "destinations: [{ name: d, url: \"http://h/\" }]\n";

Config parse_ok(const std::string& text) {
  auto result = parse_config(kDest + text, "test.yaml", secrets());
  INFO(text);
  INFO((result.ok() ? std::string() : dump(result.error())));
  REQUIRE(result.ok());
  return std::move(result).value();
}

ConfigErrors errors_of(const std::string& text) {
  auto result = parse_config(kDest + text, "test.yaml", secrets());
  INFO(text);
  REQUIRE_FALSE(result.ok());
  return result.error();
}

// The only error, at `path`, containing every one of `parts`; no message
// contains the password.
ConfigError only_error(const std::string& text, const std::string& path,
                       const std::vector<std::string>& parts) {
  const ConfigErrors errors = errors_of(text);
  INFO(dump(errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == path);
  for (const auto& part : parts) CHECK_THAT(errors[0].message, Catch::Contains(part));
  CHECK_THAT(errors[0].to_string(), !Catch::Contains(kPassword));
  return errors[0];
}

std::string host_name() {
  char name[256] = {};
  REQUIRE(::gethostname(name, sizeof name - 1) == 0);
  return name;
}

}  // namespace

TEST_CASE("storage.backend is sqlite unless postgresql is chosen", "[config]") {
  const Config defaults = parse_ok("");
  CHECK(defaults.storage.backend == Storage::Backend::sqlite);
  CHECK(defaults.storage.path == "/var/lib/ocirelay/queue.db");
  CHECK(defaults.storage.postgresql == PostgresqlStorage{});

  const Config sqlite = parse_ok("storage: { backend: sqlite, path: /tmp/q.db }\n");
  CHECK(sqlite.storage.backend == Storage::Backend::sqlite);
  CHECK(sqlite.storage.path == "/tmp/q.db");
}

TEST_CASE("storage.postgresql takes its values, with the documented defaults", "[config]") {
  SECTION("only the url: every default") {
    const Config c =
        parse_ok("storage:\n  backend: postgresql\n  postgresql: { url: \"${env:PG_URL}\" }\n");
    CHECK(c.storage.backend == Storage::Backend::postgresql);
    const PostgresqlStorage& pg = c.storage.postgresql;
    CHECK(pg.url == "postgresql://relay:" + kPassword + "@db.example:5432/relay");
    CHECK(pg.node_id == host_name());
    CHECK(pg.lease == std::chrono::seconds(30));
    CHECK(pg.pool_size == 4);
    CHECK(pg.connect_timeout == std::chrono::seconds(5));
    CHECK(pg.ca_file.empty());
    CHECK(pg.poll_interval == std::chrono::seconds(5));
  }
  SECTION("every key") {
    TempDir dir;
    const std::string ca = dir.write("pg-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    const Config c = parse_ok(
        "storage:\n  backend: postgresql\n  dedupe_window: 1h\n"
        "  postgresql:\n    url: \"${file:/run/secrets/pg-url}\"\n"
        "    node_id: relay-a\n    lease: 45s\n    pool_size: 8\n"
        "    connect_timeout: 2s\n    poll_interval: 20s\n    ca_file: " +
        ca + "\n");
    const PostgresqlStorage& pg = c.storage.postgresql;
    CHECK(pg.url == "host=db.example password=" + kPassword);
    CHECK(pg.node_id == "relay-a");
    CHECK(pg.lease == std::chrono::seconds(45));
    CHECK(pg.pool_size == 8);
    CHECK(pg.connect_timeout == std::chrono::seconds(2));
    CHECK(pg.ca_file == ca);
    CHECK(pg.poll_interval == std::chrono::seconds(20));
    CHECK(c.storage.dedupe_window == std::chrono::hours(1));
  }
}

TEST_CASE("one storage backend at a time, and the error names both keys", "[config]") {
  only_error(
      "storage:\n  backend: postgresql\n  path: /tmp/q.db\n"
      "  postgresql: { url: \"${env:PG_URL}\" }\n",
      "storage.path", {"storage.backend", "postgresql", "storage.postgresql.url"});
  for (const char* key : {"reserve", "max_size"}) {
    only_error(std::string("storage:\n  backend: postgresql\n  ") + key +
                   ": 64MiB\n  postgresql: { url: \"${env:PG_URL}\" }\n",
               std::string("storage.") + key, {"storage.backend", "sqlite"});
  }
  only_error("storage:\n  path: /tmp/q.db\n  postgresql: { url: \"${env:PG_URL}\" }\n",
             "storage.postgresql", {"storage.backend", "sqlite", "postgresql"});
  only_error("storage: { backend: postgresql }\n", "storage.postgresql",
             {"required", "storage.backend"});
  only_error("storage: { backend: postgresql, postgresql: { node_id: a } }\n",
             "storage.postgresql.url", {"required"});
  only_error("storage: { backend: mysql }\n", "storage.backend",
             {"bad backend 'mysql'", "sqlite or postgresql"});
}

TEST_CASE("storage.postgresql values are checked, and the url is never quoted", "[config]") {
  const std::string head = "storage:\n  backend: postgresql\n  postgresql:\n";
  const std::string url = "    url: \"${env:PG_URL}\"\n";
  only_error(head + "    url: \"\"\n", "storage.postgresql.url", {"must not be empty"});
  only_error(head + "    url: \"mysql:" + kPassword + "\"\n", "storage.postgresql.url",
             {"expected a libpq URI", "not shown"});
  only_error(head + "    url: \"postgresql://u:" + kPassword + "@h/\\u0001\"\n",
             "storage.postgresql.url", {"control characters"});
  only_error(head + url + "    node_id: \"relay a\"\n", "storage.postgresql.node_id",
             {"bad node id 'relay a'"});
  only_error(head + url + "    lease: 0s\n", "storage.postgresql.lease", {});
  only_error(head + url + "    pool_size: 0\n", "storage.postgresql.pool_size", {});
  only_error(head + url + "    pool_size: 65\n", "storage.postgresql.pool_size", {});
  only_error(head + url + "    connect_timeout: 500ms\n", "storage.postgresql.connect_timeout", {});
  only_error(head + url + "    ca_file: /nonexistent/pg-ca.pem\n", "storage.postgresql.ca_file",
             {"/nonexistent/pg-ca.pem"});
  only_error(head + url + "    poll_interval: 200ms\n", "storage.postgresql.poll_interval", {});
  only_error(head + url + "    sslmode: require\n", "storage.postgresql.sslmode",
             {"url, node_id, lease, pool_size, connect_timeout, ca_file, poll_interval"});
}
