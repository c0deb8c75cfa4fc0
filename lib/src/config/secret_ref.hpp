// Secret references in configuration strings: `${env:NAME}` (an environment
// variable), `${file:/path}` (a file's content, trailing newlines removed) and
// `${cred:NAME}` (a systemd credential: $CREDENTIALS_DIRECTORY/NAME, as
// `${file:}`).
// A string may hold several references mixed with literal text; `$${` writes a
// literal `${`. A lone `$` is literal.
//
// Errors name the reference (variable name or file path), never a value.
// Pure functions over the injected SecretSources; no thread affinity.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

// True when `raw` contains a reference or an escape (`${` or `$${`), i.e. when
// its resolved value may differ from the text as written.
bool has_secret_refs(std::string_view raw) noexcept;

// Replaces every reference in `raw` by its value. On failure returns one
// message per bad reference ("environment variable OIC_PASSWORD is not set").
Result<std::string, std::vector<std::string>> resolve_secret_refs(std::string_view raw,
                                                                  const SecretSources& sources);

// Removes trailing '\n' and "\r\n" from a secret file's content.
std::string trim_trailing_newlines(std::string text);

}  // namespace ocirelay::config::detail
