// libFuzzer target: the configuration loader (config::parse_config), on the
// same text read as YAML ("fuzz.yaml") and as JSON ("fuzz.json").
//
// The text is given in memory, and secret references resolve through
// in-memory sources: ${env:...} and ${file:...} (and ${cred:...}, ${vault:...})
// never reach the process environment, the file system or the network, so the fuzzer can neither
// read real secrets nor depend on them. The loader itself only checks that files it is told about
// (TLS and CA files) are regular and readable: stat and an open for reading, never a read of a
// special file, never a write.
//
// Besides ASan/UBSan, the target checks the loader's promises: a rejected
// configuration has at least one error, each with a message; and no error
// ever contains a resolved secret value (the markers below), unless the text
// itself contains it.
//
// Single-threaded; libFuzzer calls LLVMFuzzerTestOneInput sequentially.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "ocirelay/config/loader.hpp"

namespace {

using ocirelay::config::SecretSources;

// What the in-memory sources resolve to: distinctive, so that one found in an
// error message can only have come from resolving a reference.
constexpr std::string_view kEnvSecret = "ENV-SECRET-9f2c41d7";
constexpr std::string_view kFileSecret = "FILE-SECRET-5ab03e88";
constexpr std::string_view kCredSecret = "CRED-SECRET-c7d19a26";
constexpr std::string_view kVaultSecret = "VAULT-SECRET-3e8d51b0";

const SecretSources& secrets() {
  static const SecretSources sources{
      [](const std::string& name) -> std::optional<std::string> {
        if (name == "CREDENTIALS_DIRECTORY") return std::string("/run/credentials/ocirelay");
        if (name == "OIC_PASSWORD" || name == "OIC_CLIENT_SECRET" ||
            name == "OCIRELAY_INGRESS_TOKEN") {
          return std::string(kEnvSecret);
        }
        return std::nullopt;
      },
      [](const std::string& path) -> std::optional<std::string> {
        if (path.starts_with("/run/credentials/ocirelay/")) {
          return std::string(kCredSecret) + "\n";
        }
        if (path.starts_with("/etc/ocirelay/secrets/")) return std::string(kFileSecret) + "\r\n";
        return std::nullopt;
      },
      // ${vault:}: secrets whose OCID ends in 'a' exist; the others are 404.
      [](const ocirelay::config::Oci&,
         const std::string& ocid) -> ocirelay::Result<std::string, std::string> {
        if (ocid.ends_with("a")) return std::string(kVaultSecret);
        return ocirelay::fail(std::string("HTTP 404 (NotAuthorizedOrNotFound)"));
      }};
  return sources;
}

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_config: invariant violated: %s\n", what.c_str());
  std::abort();
}

void load(std::string_view text, const std::string& name) {
  auto loaded = ocirelay::config::parse_config(text, name, secrets());
  if (loaded) return;
  const auto& errors = loaded.error();
  if (errors.empty()) violated("rejected without an error");
  for (const auto& error : errors) {
    if (error.message.empty()) violated("an error without a message");
    const std::string shown = error.to_string();
    for (const std::string_view secret : {kEnvSecret, kFileSecret, kCredSecret, kVaultSecret}) {
      if (shown.find(secret) != std::string::npos && text.find(secret) == std::string_view::npos) {
        violated("a resolved secret in an error: " + shown);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  load(text, "fuzz.yaml");
  load(text, "fuzz.json");
  return 0;
}
