// Standard base64 (RFC 4648, with padding). Pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ocirelay {

std::string base64_encode(std::string_view in);
// nullopt when `in` is not well-formed padded base64.
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace ocirelay
