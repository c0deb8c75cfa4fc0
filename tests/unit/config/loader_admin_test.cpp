// The `admin:` section (issue #3): the admin socket of ocirelayctl. Optional;
// its path must fit a Unix socket address and its directory must exist or be
// creatable. ocirelayctl reads the section alone (load_admin_section).
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <string>

#include "config/admin_schema.hpp"
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
  static const SecretSources s = fake_secrets({{"ADMIN_DIR", "/tmp"}});
  return s;
}

Result<Config, ConfigErrors> parse(const std::string& text) {
  return parse_config(text, "test.yaml", secrets());
}

ConfigError only_error(const std::string& text) {
  auto result = parse(text);
  INFO(text);
  REQUIRE_FALSE(result.ok());
  INFO(dump(result.error()));
  REQUIRE(result.error().size() == 1);
  return result.error()[0];
}

}  // namespace

TEST_CASE("admin: absent means no admin endpoint", "[config][admin]") {
  auto config = parse("log: { level: info }\n");
  REQUIRE(config.ok());
  CHECK_FALSE(config->admin.has_value());
}

TEST_CASE("admin.socket is read, with secret references and the default path", "[config][admin]") {
  TempDir dir;
  auto config = parse("admin:\n  socket: " + dir.file("admin.sock") + "\n");
  REQUIRE(config.ok());
  REQUIRE(config->admin.has_value());
  CHECK(config->admin->socket == dir.file("admin.sock"));

  auto from_env = parse("admin: { socket: \"${env:ADMIN_DIR}/ocirelay-admin.sock\" }\n");
  REQUIRE(from_env.ok());
  CHECK(from_env->admin->socket == "/tmp/ocirelay-admin.sock");

  auto defaulted = parse("admin: {}\n");
  REQUIRE(defaulted.ok());
  REQUIRE(defaulted->admin.has_value());
  CHECK(defaulted->admin->socket == "/run/ocirelay/admin.sock");
}

TEST_CASE("admin.socket: a missing directory that can be created is fine", "[config][admin]") {
  TempDir dir;
  auto config = parse("admin:\n  socket: " + dir.file("run/deeper/admin.sock") + "\n");
  INFO((config.ok() ? std::string() : dump(config.error())));
  CHECK(config.ok());
}

TEST_CASE("admin.socket problems name the key path", "[config][admin]") {
  TempDir dir;
  SECTION("unknown key") {
    auto e = only_error("admin:\n  sockets: /tmp/x.sock\n");
    CHECK(e.path == "admin.sockets");
    CHECK(e.message.find("socket") != std::string::npos);
  }
  SECTION("not a mapping") {
    auto e = only_error("admin: /tmp/x.sock\n");
    CHECK(e.path == "admin");
    CHECK(e.line == 1);
  }
  SECTION("empty") {
    auto e = only_error("admin:\n  socket: \"\"\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("must not be empty") != std::string::npos);
    CHECK(e.line == 2);
  }
  SECTION("too long for a socket address") {
    const std::string path = dir.file(std::string(120, 'a') + ".sock");
    auto e = only_error("admin:\n  socket: " + path + "\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("at most " + std::to_string(sizeof(sockaddr_un::sun_path) - 1)) !=
          std::string::npos);
  }
  SECTION("a directory name") {
    auto e = only_error("admin:\n  socket: " + dir.path().string() + "/\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("directory") != std::string::npos);
  }
  SECTION("parent is a file") {
    dir.write("plain", "x");
    auto e = only_error("admin:\n  socket: " + dir.file("plain/admin.sock") + "\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("is not a directory") != std::string::npos);
  }
  SECTION("something else is in the way") {
    dir.write("admin.sock", "not a socket");
    auto e = only_error("admin:\n  socket: " + dir.file("admin.sock") + "\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("is not a socket") != std::string::npos);
  }
  SECTION("the directory cannot be created") {
    if (::geteuid() == 0) {
      SUCCEED("root can create directories anywhere");
      return;
    }
    auto e = only_error("admin:\n  socket: /proc/ocirelay-test/admin.sock\n");
    CHECK(e.path == "admin.socket");
    CHECK(e.message.find("cannot be created") != std::string::npos);
  }
}

TEST_CASE("ocirelayctl reads the admin section alone", "[config][admin]") {
  TempDir dir;
  // The rest of this file is invalid, and names secrets nobody can read.
  const std::string file = dir.write("ocirelay.yaml",
                                     "server:\n  listen: nonsense\n"
                                     "  auth: { bearer_tokens: [\"${file:/nonexistent}\"] }\n"
                                     "admin:\n  socket: /run/nowhere/admin.sock\n");
  auto admin = detail::load_admin_section(file, secrets());
  INFO((admin.ok() ? std::string() : dump(admin.error())));
  REQUIRE(admin.ok());
  REQUIRE(admin.value().has_value());
  CHECK(admin.value()->socket == "/run/nowhere/admin.sock");

  const std::string none = dir.write("none.yaml", "log: { level: info }\n");
  auto absent = detail::load_admin_section(none, secrets());
  REQUIRE(absent.ok());
  CHECK_FALSE(absent.value().has_value());

  const std::string json = dir.write("c.json", R"({"admin": {"socket": "/tmp/a.sock"}})");
  auto from_json = detail::load_admin_section(json, secrets());
  REQUIRE(from_json.ok());
  CHECK(from_json.value()->socket == "/tmp/a.sock");

  const std::string bad = dir.write("bad.yaml", "admin:\n  socket: [1, 2]\n");
  auto errors = detail::load_admin_section(bad, secrets());
  REQUIRE_FALSE(errors.ok());
  CHECK(errors.error().at(0).path == "admin.socket");
  CHECK(errors.error().at(0).line == 2);

  auto missing = detail::load_admin_section(dir.file("nope.yaml"), secrets());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().at(0).message.find("cannot read") != std::string::npos);
}
