// find_system_trust(): SSL_CERT_FILE first when it names a readable file,
// then the distributions' usual places, in order.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "ocirelay/http/system_trust.hpp"
#include "support/temp_dir.hpp"

using ocirelay::http::find_system_trust;
using ocirelay::http::system_trust_candidates;
using ocirelay::test::TempDir;

namespace {

// Sets SSL_CERT_FILE for one test and restores it afterwards.
class CertFileEnv {
 public:
  explicit CertFileEnv(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("SSL_CERT_FILE")) old_ = old;
    if (value) {
      ::setenv("SSL_CERT_FILE", value->c_str(), 1);
    } else {
      ::unsetenv("SSL_CERT_FILE");
    }
  }
  ~CertFileEnv() {
    if (old_) {
      ::setenv("SSL_CERT_FILE", old_->c_str(), 1);
    } else {
      ::unsetenv("SSL_CERT_FILE");
    }
  }

 private:
  std::optional<std::string> old_;
};

// The first default place that exists on this machine, if any.
std::optional<std::string> first_default() {
  for (const char* path : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                           "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}) {
    if (::access(path, R_OK) == 0) return std::string(path);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("the places looked at, in order", "[tls][trust]") {
  CertFileEnv env(std::string("/x/bundle.pem"));
  const auto candidates = system_trust_candidates();
  REQUIRE(candidates.size() == 4);
  CHECK(candidates[0] == "/x/bundle.pem");
  CHECK(candidates[1] == "/etc/ssl/certs/ca-certificates.crt");
  CHECK(candidates[2] == "/etc/pki/tls/certs/ca-bundle.crt");
  CHECK(candidates[3] == "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
  CertFileEnv unset(std::nullopt);
  CHECK(system_trust_candidates().size() == 3);
}

TEST_CASE("SSL_CERT_FILE wins when it names a readable file", "[tls][trust]") {
  TempDir dir;
  const std::string bundle = dir.write("bundle.pem", "not parsed here\n");
  CertFileEnv env(bundle);
  const auto found = find_system_trust();
  REQUIRE(found);
  CHECK(found->file == bundle);
  CHECK(found->from == "SSL_CERT_FILE");
}

TEST_CASE("an SSL_CERT_FILE that is missing or a directory is passed over", "[tls][trust]") {
  TempDir dir;
  for (const std::string& value : {(dir.path() / "missing.pem").string(), dir.path().string()}) {
    INFO(value);
    CertFileEnv env(value);
    const auto found = find_system_trust();
    const auto expected = first_default();
    REQUIRE(found.has_value() == expected.has_value());
    if (found) {
      CHECK(found->file == *expected);
      CHECK(found->from == "default location");
    }
  }
}
