#include "support/fake_vault.hpp"

#include <utility>

#include "ocirelay/http/message.hpp"
#include "support/oci_verifier.hpp"

namespace ocirelay::test {

namespace {

constexpr std::string_view kPrefix = "/20190301/secretbundles/";

Reply oci_error(int status, const std::string& code) {
  return Reply{http::json_response(status, R"({"code":")" + code + R"(","message":"refused"})"),
               {}};
}

}  // namespace

FakeVault::FakeVault(const TestPki& pki, KeyLookup public_key_of)
    : server({pki.server_cert, pki.server_key}), public_key_of_(std::move(public_key_of)) {
  server.set_script([this](const RecordedRequest& r, std::size_t) { return answer(r); });
}

void FakeVault::put(const std::string& ocid, const std::string& content) {
  const std::lock_guard lock(mutex_);
  secrets_[ocid] = content;
  refused_.erase(ocid);
}

void FakeVault::refuse(const std::string& ocid, int status) {
  const std::lock_guard lock(mutex_);
  refused_[ocid] = status;
}

std::vector<std::string> FakeVault::problems() const {
  const std::lock_guard lock(mutex_);
  return problems_;
}

Reply FakeVault::answer(const RecordedRequest& r) {
  const std::string problem = oci_verification_problem(r, public_key_of_);
  const std::lock_guard lock(mutex_);
  if (!problem.empty()) {
    problems_.push_back(problem);
    return oci_error(401, "NotAuthenticated");
  }
  if (r.method != "GET" || r.target.rfind(kPrefix, 0) != 0) {
    problems_.push_back("not a GetSecretBundle: " + r.method + " " + r.target);
    return oci_error(404, "NotFound");
  }
  const std::string ocid = r.target.substr(kPrefix.size());
  if (const auto it = refused_.find(ocid); it != refused_.end()) {
    return oci_error(it->second, it->second == 403 ? "NotAuthorized" : "NotAuthorizedOrNotFound");
  }
  const auto it = secrets_.find(ocid);
  if (it == secrets_.end()) return oci_error(404, "NotAuthorizedOrNotFound");
  return Reply{
      http::json_response(200, R"({"secretId":")" + ocid +
                                   R"(","versionNumber":1,"stages":["CURRENT","LATEST"],)"
                                   R"("secretBundleContent":{"contentType":"BASE64","content":")" +
                                   base64_of(it->second) + R"("}})"),
      {}};
}

}  // namespace ocirelay::test
