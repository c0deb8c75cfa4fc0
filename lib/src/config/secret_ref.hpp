// Secret references in configuration strings: `${env:NAME}` (an environment
// variable), `${file:/path}` (a file's content, trailing newlines removed) and
// `${cred:NAME}` (a systemd credential: $CREDENTIALS_DIRECTORY/NAME, as
// `${file:}`), and `${vault:<secret OCID>}` (an OCI Vault secret's current
// content, through the lookup the caller gives).
// A string may hold several references mixed with literal text; `$${` writes a
// literal `${`. A lone `$` is literal.
//
// Errors name the reference (variable name or file path), never a value.
// Pure functions over the injected SecretSources; no thread affinity.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

// True when `raw` contains a reference or an escape (`${` or `$${`), i.e. when
// its resolved value may differ from the text as written.
bool has_secret_refs(std::string_view raw) noexcept;

// The content of an OCI Vault secret by OCID, or why not (without the content).
using VaultLookup = std::function<Result<std::string, std::string>(const std::string& ocid)>;

// Replaces every reference in `raw` by its value; `vault` resolves
// `${vault:}` (empty: refused). On failure returns one message per bad
// reference ("environment variable OIC_PASSWORD is not set").
Result<std::string, std::vector<std::string>> resolve_secret_refs(std::string_view raw,
                                                                  const SecretSources& sources,
                                                                  const VaultLookup& vault = {});

// True when `ocid` looks like a Vault secret's OCID ("ocid1.vaultsecret.<realm>..."),
// free of characters a URL path would need escaped.
bool is_secret_ocid(std::string_view ocid) noexcept;

// Removes trailing '\n' and "\r\n" from a secret file's content.
std::string trim_trailing_newlines(std::string text);

}  // namespace ocirelay::config::detail
