#include <catch2/catch.hpp>

#include <cstdlib>

#include "config/secret_ref.hpp"
#include "support/temp_dir.hpp"
#include "unit/config/fake_secrets.hpp"

using ocirelay::config::default_secret_sources;
using ocirelay::config::detail::has_secret_refs;
using ocirelay::config::detail::resolve_secret_refs;
using ocirelay::config::detail::trim_trailing_newlines;
using ocirelay::test::fake_secrets;

namespace {

const auto kSources = fake_secrets({{"OIC_PASSWORD", "s3cret"}, {"EMPTY", ""}, {"HOST", "oic"}},
                                   {{"/run/secrets/token", "tok-123\n"},
                                    {"/run/secrets/crlf", "abc\r\n\r\n"},
                                    {"/run/secrets/inner", "a\nb\n"}});

std::string resolved(const std::string& raw) {
  auto r = resolve_secret_refs(raw, kSources);
  INFO("raw: " << raw);
  REQUIRE(r.ok());
  return r.value();
}

std::vector<std::string> errors(const std::string& raw) {
  auto r = resolve_secret_refs(raw, kSources);
  INFO("raw: " << raw);
  REQUIRE_FALSE(r.ok());
  return r.error();
}

}  // namespace

TEST_CASE("text without references is returned unchanged", "[secret_ref]") {
  CHECK(resolved("") == "");
  CHECK(resolved("plain text") == "plain text");
  CHECK(resolved("cost: $5, {braces} and $ alone") == "cost: $5, {braces} and $ alone");
  CHECK(resolved("$") == "$");
  CHECK(resolved("a$b$") == "a$b$");
  CHECK_FALSE(has_secret_refs("plain $ text {x}"));
  CHECK(has_secret_refs("${env:X}"));
  CHECK(has_secret_refs("$${literal}"));
}

TEST_CASE("environment references resolve", "[secret_ref]") {
  CHECK(resolved("${env:OIC_PASSWORD}") == "s3cret");
  CHECK(resolved("${env:EMPTY}") == "");
  CHECK(resolved("https://${env:HOST}.example.com/x") == "https://oic.example.com/x");
}

TEST_CASE("file references resolve with trailing newlines trimmed", "[secret_ref]") {
  CHECK(resolved("${file:/run/secrets/token}") == "tok-123");
  CHECK(resolved("${file:/run/secrets/crlf}") == "abc");
  CHECK(resolved("${file:/run/secrets/inner}") == "a\nb");
}

TEST_CASE("several references mix with literal text", "[secret_ref]") {
  CHECK(resolved("${env:HOST}:${env:OIC_PASSWORD}/${file:/run/secrets/token}!") ==
        "oic:s3cret/tok-123!");
  CHECK(resolved("${env:HOST}${env:HOST}") == "oicoic");
}

TEST_CASE("$${ writes a literal ${", "[secret_ref]") {
  CHECK(resolved("$${env:OIC_PASSWORD}") == "${env:OIC_PASSWORD}");
  CHECK(resolved("a$${b}c ${env:HOST}") == "a${b}c oic");
  CHECK(resolved("$$") == "$$");  // only "$${" is special
}

TEST_CASE("a missing variable names the variable, never a value", "[secret_ref]") {
  const auto e = errors("${env:NOPE}");
  REQUIRE(e.size() == 1);
  CHECK_THAT(e[0], Catch::Contains("NOPE") && Catch::Contains("not set"));
}

TEST_CASE("an unreadable file names the path", "[secret_ref]") {
  const auto e = errors("${file:/run/secrets/missing}");
  REQUIRE(e.size() == 1);
  CHECK_THAT(e[0], Catch::Contains("/run/secrets/missing") && Catch::Contains("cannot read"));
}

TEST_CASE("every bad reference in a string is reported", "[secret_ref]") {
  const auto e = errors("${env:A1}-${env:OIC_PASSWORD}-${file:/nope}");
  REQUIRE(e.size() == 2);
  CHECK_THAT(e[0], Catch::Contains("A1"));
  CHECK_THAT(e[1], Catch::Contains("/nope"));
  for (const auto& message : e) {
    CHECK_THAT(message, !Catch::Contains("s3cret"));
  }
}

TEST_CASE("malformed references are errors", "[secret_ref]") {
  CHECK_THAT(errors("${ssm:kv/x}")[0], Catch::Contains("unknown secret reference scheme 'ssm'"));
  CHECK_THAT(errors("${vault:kv/x}")[0], Catch::Contains("must name a Vault secret's OCID"));
  CHECK_THAT(errors("${vault:ocid1.vaultsecret.oc1../x}")[0],
             Catch::Contains("must name a Vault secret's OCID"));
  CHECK_THAT(errors("${vault:ocid1.vaultsecret.oc1..a}")[0],
             Catch::Contains("cannot be resolved here"));
  CHECK_THAT(errors("${NAME}")[0], Catch::Contains("no scheme"));
  CHECK_THAT(errors("${env:}")[0], Catch::Contains("names no environment variable"));
  CHECK_THAT(errors("${file:}")[0], Catch::Contains("names no file"));
  CHECK_THAT(errors("abc ${env:X")[0], Catch::Contains("unterminated"));
}

TEST_CASE("missing source functions behave like missing values", "[secret_ref]") {
  const ocirelay::config::SecretSources none;
  CHECK_FALSE(resolve_secret_refs("${env:HOME}", none).ok());
  CHECK_FALSE(resolve_secret_refs("${file:/etc/hostname}", none).ok());
  CHECK(resolve_secret_refs("no refs", none).ok());
}

TEST_CASE("trailing newlines are trimmed, nothing else", "[secret_ref]") {
  CHECK(trim_trailing_newlines("x\n\n\n") == "x");
  CHECK(trim_trailing_newlines("x \n") == "x ");
  CHECK(trim_trailing_newlines("\n") == "");
  CHECK(trim_trailing_newlines(" x\t") == " x\t");
}

TEST_CASE("default sources read the environment and files", "[secret_ref]") {
  const ocirelay::test::TempDir dir;
  const auto path = dir.write("secret.txt", "from-file\n");
  const auto sources = default_secret_sources();
  auto r = resolve_secret_refs("${file:" + path + "}", sources);
  REQUIRE(r.ok());
  CHECK(r.value() == "from-file");
  CHECK_FALSE(resolve_secret_refs("${file:" + dir.file("absent") + "}", sources).ok());
  CHECK_FALSE(resolve_secret_refs("${file:" + dir.path().string() + "}", sources).ok());  // a dir

  // PATH is set in any test environment; a made-up name is not.
  REQUIRE(std::getenv("PATH") != nullptr);
  auto env = resolve_secret_refs("${env:PATH}", sources);
  REQUIRE(env.ok());
  CHECK(env.value() == std::getenv("PATH"));
  CHECK_FALSE(resolve_secret_refs("${env:OCIRELAY_TEST_SURELY_UNSET_VARIABLE_4711}", sources).ok());
}

TEST_CASE("systemd credentials resolve from CREDENTIALS_DIRECTORY", "[secret_ref]") {
  const auto with_creds = fake_secrets({{"CREDENTIALS_DIRECTORY", "/run/credentials/ocirelay.service"}},
                                       {{"/run/credentials/ocirelay.service/oic-password", "pw-1\n"}});
  auto ok = resolve_secret_refs("${cred:oic-password}", with_creds);
  REQUIRE(ok.ok());
  CHECK(ok.value() == "pw-1");

  auto missing = resolve_secret_refs("${cred:other}", with_creds);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().at(0).find("credential other") != std::string::npos);

  auto no_dir = resolve_secret_refs("${cred:oic-password}", kSources);
  REQUIRE_FALSE(no_dir.ok());
  CHECK(no_dir.error().at(0).find("CREDENTIALS_DIRECTORY") != std::string::npos);
  CHECK(no_dir.error().at(0).find("LoadCredential=oic-password") != std::string::npos);

  for (const char* bad : {"${cred:}", "${cred:../etc/shadow}", "${cred:a/b}", "${cred:..}"}) {
    INFO(bad);
    auto r = resolve_secret_refs(bad, with_creds);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().at(0).find("must name a credential") != std::string::npos);
  }
}
