// How an OCI service's error answer is described in a log line or an error
// message: "HTTP 404 (NotAuthorizedOrNotFound)", optionally with OCI's
// message, control characters blanked and cut short. Never the body of a
// successful answer. Pure functions; no thread affinity.
#pragma once

#include <string>
#include <string_view>

#include "ocirelay/http/client.hpp"

namespace ocirelay::oci {

// "HTTP <status>", then " (<code>)" or, `with_message`, " (<code>: <message>)"
// from an OCI error body {"code": ..., "message": ...}.
std::string oci_http_failure(const http::ClientResponse& response, bool with_message);

}  // namespace ocirelay::oci
