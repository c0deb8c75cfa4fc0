// The security token the OCI federation endpoint issues: a JWT whose payload
// carries its expiry (`exp`, seconds since the epoch). Only the expiry is
// read; the signature is the issuer's business. Pure functions; no thread
// affinity. Errors never quote the token.
#pragma once

#include <chrono>
#include <string_view>

#include "ocirelay/common/result.hpp"

namespace ocirelay::oci {

// The `exp` of a JWT ("<header>.<payload>.<signature>", base64url parts).
Result<std::chrono::system_clock::time_point> jwt_expiry(std::string_view token);

}  // namespace ocirelay::oci
