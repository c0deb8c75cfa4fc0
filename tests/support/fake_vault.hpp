// A fake OCI Vault secrets endpoint on 127.0.0.1 (HTTPS with the test CA's
// server certificate): GetSecretBundle, `GET /20190301/secretbundles/<OCID>`,
// answered as the real service does ({"secretBundleContent": {"contentType":
// "BASE64", "content": ...}}) for the secrets put(), 404
// NotAuthorizedOrNotFound for unknown ones, and the status refuse()d for
// others. Every request must verify as an OCI signature (oci_verifier.hpp)
// with the key `public_key_of` gives for its keyId; otherwise 401, with the
// reason recorded.
//
// Thread contract: the script runs on the server thread; the state is set and
// read from the test thread under a mutex.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "support/fake_http_server.hpp"
#include "support/test_pki.hpp"

namespace ocirelay::test {

class FakeVault {
 public:
  using KeyLookup = std::function<std::optional<std::string>(const std::string& key_id)>;

  FakeVault(const TestPki& pki, KeyLookup public_key_of);

  FakeHttpServer server;

  void put(const std::string& ocid, const std::string& content);
  void refuse(const std::string& ocid, int status);
  std::string url() const { return server.url(""); }
  std::vector<std::string> problems() const;

 private:
  Reply answer(const RecordedRequest& r);

  KeyLookup public_key_of_;
  mutable std::mutex mutex_;
  std::map<std::string, std::string> secrets_;
  std::map<std::string, int> refused_;
  std::vector<std::string> problems_;
};

}  // namespace ocirelay::test
