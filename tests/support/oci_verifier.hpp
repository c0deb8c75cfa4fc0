// Verifying OCI request signatures (Signature Version 1) as an OCI service
// would, for the fakes of the tests: the signing string is rebuilt here from
// the request as it arrived (independently of the library's signer), the
// `headers=` list must name every header OCI requires for the method, the
// body's x-content-sha256 and content-length must match it, the date must be
// within five minutes, and the RSA-SHA256 signature must verify with the
// public key. Also helpers to make keys with the openssl command.
//
// Pure functions (and openssl processes); no thread affinity.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/temp_dir.hpp"

namespace ocirelay::test {

// Runs a shell command; its standard output.
std::string run_command(const std::string& command);

// The key="value" parameters of an `Authorization: Signature ...` header.
std::map<std::string, std::string> signature_params(const std::string& header);

std::string base64_of(const std::string& bytes);
std::vector<unsigned char> unbase64(const std::string& text);
std::string sha256_b64(const std::string& body);

// A "BEGIN PUBLIC KEY" PEM from its base64 DER body.
std::string public_key_pem_of(const std::string& der_base64);

// Why OCI would refuse `r` (empty: it verifies). `public_key_of` gives the
// PEM public key of a keyId, or nullopt for an unknown keyId.
std::string oci_verification_problem(
    const RecordedRequest& r,
    const std::function<std::optional<std::string>(const std::string& key_id)>& public_key_of);

// The same for one known keyId and key.
std::string oci_verification_problem(const RecordedRequest& r, const std::string& key_id,
                                     const std::string& public_pem);

}  // namespace ocirelay::test
