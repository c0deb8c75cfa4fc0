// Text received from a peer (an error body, an OAuth2 or OCI error message),
// made safe to keep: in a log line, in the last-error column of a delivery
// (PostgreSQL refuses text that is not valid UTF-8 or holds a NUL byte), in
// the admin API's JSON.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ocirelay {

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, at
// most U+10FFFF). NUL is a character like any other here.
bool is_utf8(std::string_view text);

// `text` as valid UTF-8: each byte that does not start or continue a valid
// sequence (overlong forms, surrogates and code points above U+10FFFF
// included), and each NUL byte, becomes U+FFFD. Valid text is unchanged.
std::string valid_utf8(std::string_view text);

// valid_utf8(text) with control characters (below 0x20, and 0x7f) blanked,
// cut to at most `limit` bytes on a character boundary, "..." added when
// something was cut.
std::string printable_text(std::string_view text, std::size_t limit);

}  // namespace ocirelay
