#include "ocirelay/http/system_trust.hpp"

#include <cstdlib>

#include <sys/stat.h>
#include <unistd.h>

namespace ocirelay::http {

namespace {

constexpr const char* kDefaultBundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
};

bool readable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), R_OK) == 0;
}

const char* cert_file_from_environment() {
  const char* env = std::getenv("SSL_CERT_FILE");
  return env != nullptr && *env != '\0' ? env : nullptr;
}

}  // namespace

std::vector<std::string> system_trust_candidates() {
  std::vector<std::string> out;
  if (const char* env = cert_file_from_environment()) out.emplace_back(env);
  for (const char* path : kDefaultBundles) out.emplace_back(path);
  return out;
}

std::optional<SystemTrust> find_system_trust() {
  if (const char* env = cert_file_from_environment(); env != nullptr && readable_file(env)) {
    return SystemTrust{env, "SSL_CERT_FILE"};
  }
  for (const char* path : kDefaultBundles) {
    if (readable_file(path)) return SystemTrust{path, "default location"};
  }
  return std::nullopt;
}

}  // namespace ocirelay::http
