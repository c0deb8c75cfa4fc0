#include "config/secret_ref.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>

namespace ocirelay::config {

namespace {

// A secret file larger than this is refused (it is not a secret, it is a
// mistake such as /dev/zero).
constexpr std::uintmax_t kMaxSecretFileBytes = 1024 * 1024;

std::optional<std::string> read_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

std::optional<std::string> read_secret_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec) || ec) {
    return std::nullopt;
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxSecretFileBytes) {
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    return std::nullopt;
  }
  return content;
}

}  // namespace

SecretSources default_secret_sources() { return SecretSources{read_env, read_secret_file, {}}; }

namespace detail {

namespace {

constexpr std::string_view kOpen = "${";
constexpr std::string_view kEscapedOpen = "$${";
constexpr std::string_view kUnterminated =
    "unterminated secret reference (a '${' without its '}'); write '$${' for a literal '${'";

// Resolves the body of one reference ("env:NAME"); appends the value to out or
// an error message to errors.
void resolve_one(std::string_view body, const SecretSources& sources, const VaultLookup& vault,
                 std::string& out, std::vector<std::string>& errors) {
  const auto colon = body.find(':');
  if (colon == std::string_view::npos) {
    errors.push_back("secret reference ${" + std::string(body) +
                     "} has no scheme; expected ${env:NAME}, ${file:/path}, ${cred:NAME} or "
                     "${vault:<secret OCID>}");
    return;
  }
  const std::string scheme(body.substr(0, colon));
  const std::string target(body.substr(colon + 1));
  if (scheme == "env") {
    if (target.empty()) {
      errors.push_back("secret reference ${env:} names no environment variable");
      return;
    }
    std::optional<std::string> value = sources.env ? sources.env(target) : std::nullopt;
    if (!value) {
      errors.push_back("environment variable " + target + " (in ${env:" + target + "}) is not set");
      return;
    }
    out += *value;
  } else if (scheme == "file") {
    if (target.empty()) {
      errors.push_back("secret reference ${file:} names no file");
      return;
    }
    std::optional<std::string> value = sources.file ? sources.file(target) : std::nullopt;
    if (!value) {
      errors.push_back("cannot read secret file " + target + " (in ${file:" + target + "})");
      return;
    }
    out += trim_trailing_newlines(std::move(*value));
  } else if (scheme == "cred") {
    // systemd credentials (LoadCredential=NAME:/path): $CREDENTIALS_DIRECTORY/NAME.
    if (target.empty() || target.find('/') != std::string::npos || target == "." ||
        target == "..") {
      errors.push_back("secret reference ${cred:" + target + "} must name a credential");
      return;
    }
    std::optional<std::string> dir =
        sources.env ? sources.env("CREDENTIALS_DIRECTORY") : std::nullopt;
    if (!dir || dir->empty()) {
      errors.push_back("${cred:" + target +
                       "} needs CREDENTIALS_DIRECTORY, set by systemd for a unit with "
                       "LoadCredential=" +
                       target + ":...");
      return;
    }
    std::optional<std::string> value =
        sources.file ? sources.file(*dir + "/" + target) : std::nullopt;
    if (!value) {
      errors.push_back("cannot read systemd credential " + target + " (in ${cred:" + target + "})");
      return;
    }
    out += trim_trailing_newlines(std::move(*value));
  } else if (scheme == "vault") {
    if (!is_secret_ocid(target)) {
      errors.push_back("${vault:" + target +
                       "} must name a Vault secret's OCID (ocid1.vaultsecret.<realm>...)");
      return;
    }
    if (!vault) {
      errors.push_back("${vault:" + target + "} cannot be resolved here (no OCI Vault access)");
      return;
    }
    auto value = vault(target);
    if (!value) {
      errors.push_back("cannot read OCI Vault secret " + target + ": " + value.error());
      return;
    }
    // As with ${file:}: a secret stored with a final newline (echo ... |
    // base64) does not carry it into a password.
    out += trim_trailing_newlines(std::move(value).value());
  } else {
    errors.push_back("unknown secret reference scheme '" + scheme + "' in ${" + std::string(body) +
                     "}; expected ${env:NAME}, ${file:/path}, ${cred:NAME} or "
                     "${vault:<secret OCID>}");
  }
}

}  // namespace

bool is_secret_ocid(std::string_view ocid) noexcept {
  constexpr std::string_view kPrefix = "ocid1.vaultsecret.";
  if (!ocid.starts_with(kPrefix) || ocid.size() == kPrefix.size() || ocid.size() > 255) {
    return false;
  }
  for (const char c : ocid) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool has_secret_refs(std::string_view raw) noexcept {
  return raw.find(kOpen) != std::string_view::npos;
}

std::string trim_trailing_newlines(std::string text) {
  while (!text.empty() && text.back() == '\n') {
    text.pop_back();
    if (!text.empty() && text.back() == '\r') {
      text.pop_back();
    }
  }
  return text;
}

Result<std::string, std::vector<std::string>> resolve_secret_refs(std::string_view raw,
                                                                  const SecretSources& sources,
                                                                  const VaultLookup& vault) {
  std::string out;
  std::vector<std::string> errors;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    if (raw.substr(pos, kEscapedOpen.size()) == kEscapedOpen) {
      out += kOpen;
      pos += kEscapedOpen.size();
      continue;
    }
    if (raw.substr(pos, kOpen.size()) == kOpen) {
      const std::size_t body_begin = pos + kOpen.size();
      const std::size_t close = raw.find('}', body_begin);
      if (close == std::string_view::npos) {
        errors.emplace_back(kUnterminated);
        break;
      }
      resolve_one(raw.substr(body_begin, close - body_begin), sources, vault, out, errors);
      pos = close + 1;
      continue;
    }
    out += raw[pos];
    ++pos;
  }
  if (!errors.empty()) {
    return fail(std::move(errors));
  }
  return out;
}

}  // namespace detail

}  // namespace ocirelay::config
