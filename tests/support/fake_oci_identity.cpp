#include "support/fake_oci_identity.hpp"

#include <ctime>
#include <utility>

#include <rapidjson/document.h>

#include "ocirelay/http/message.hpp"
#include "support/fixtures.hpp"
#include "support/oci_verifier.hpp"

namespace ocirelay::test {

namespace {

std::string base64url(const std::string& bytes) {
  std::string out = base64_of(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Reply text(int status, std::string body) {
  http::Response response{status, {}, std::move(body), false};
  response.headers.add("Content-Type", "text/plain");
  return Reply{std::move(response), {}};
}

}  // namespace

std::string pem_body(const std::string& pem) {
  std::string out;
  std::size_t at = 0;
  while (at < pem.size()) {
    auto end = pem.find('\n', at);
    if (end == std::string::npos) end = pem.size();
    const std::string line = pem.substr(at, end - at);
    if (!line.empty() && line.rfind("-----", 0) != 0) out += line;
    at = end + 1;
  }
  return out;
}

FakeOciIdentity::FakeOciIdentity(const TestPki& pki, std::string tenancy, InstanceIdentity first)
    : federation({pki.server_cert, pki.server_key}),
      tenancy_(std::move(tenancy)),
      intermediate_pem_(read_file(pki.ca_cert)),
      current_(first),
      known_{std::move(first)} {
  metadata.set_script([this](const RecordedRequest& r, std::size_t) { return answer_metadata(r); });
  federation.set_script(
      [this](const RecordedRequest& r, std::size_t) { return answer_federation(r); });
}

void FakeOciIdentity::serve(InstanceIdentity identity) {
  const std::lock_guard lock(mutex_);
  known_.push_back(identity);
  current_ = std::move(identity);
}

void FakeOciIdentity::set_token_lifetime(std::chrono::seconds lifetime) {
  const std::lock_guard lock(mutex_);
  lifetime_ = lifetime;
}

void FakeOciIdentity::set_down(bool down) {
  const std::lock_guard lock(mutex_);
  down_ = down;
}

void FakeOciIdentity::set_region_info(bool served) {
  const std::lock_guard lock(mutex_);
  region_info_ = served;
}

void FakeOciIdentity::set_region_info_answer(std::string body) {
  const std::lock_guard lock(mutex_);
  region_info_answer_ = std::move(body);
}

std::optional<std::string> FakeOciIdentity::session_key(const std::string& key_id) const {
  if (key_id.rfind("ST$", 0) != 0) return std::nullopt;
  const std::lock_guard lock(mutex_);
  const auto it = session_keys_.find(key_id.substr(3));
  if (it == session_keys_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FakeOciIdentity::tokens() const {
  const std::lock_guard lock(mutex_);
  return tokens_;
}

std::vector<std::string> FakeOciIdentity::federated_fingerprints() const {
  const std::lock_guard lock(mutex_);
  return fingerprints_;
}

std::vector<std::string> FakeOciIdentity::problems() const {
  const std::lock_guard lock(mutex_);
  return problems_;
}

Reply FakeOciIdentity::answer_metadata(const RecordedRequest& r) {
  const std::lock_guard lock(mutex_);
  if (r.method != "GET") return text(405, "GET only");
  if (r.headers.get("Authorization").value_or("") != "Bearer Oracle") {
    problems_.push_back("metadata request without Authorization: Bearer Oracle");
    return text(401, "missing Authorization: Bearer Oracle");
  }
  if (r.target == "/opc/v2/instance/region") return text(200, region);
  if (r.target == "/opc/v2/instance/regionInfo/" && region_info_ && !region_info_answer_.empty()) {
    return Reply{http::json_response(200, region_info_answer_), {}};
  }
  if (r.target == "/opc/v2/instance/regionInfo/" && region_info_) {
    return Reply{http::json_response(200, R"({"realmKey":"oc1","realmDomainComponent":")" +
                                              realm_domain + R"(","regionKey":"FRA",)" +
                                              R"("regionIdentifier":")" + region + R"("})"),
                 {}};
  }
  if (r.target == "/opc/v2/identity/cert.pem") return text(200, current_.cert_pem);
  if (r.target == "/opc/v2/identity/intermediate.pem") return text(200, intermediate_pem_);
  if (r.target == "/opc/v2/identity/key.pem") return text(200, current_.key_pem);
  return text(404, "not found");
}

Reply FakeOciIdentity::answer_federation(const RecordedRequest& r) {
  const std::lock_guard lock(mutex_);
  if (down_) {
    return Reply{http::json_response(503, R"({"code":"ServiceUnavailable","message":"down"})"), {}};
  }
  const auto refuse = [this](std::string why) {
    problems_.push_back(std::move(why));
    return Reply{http::json_response(401, R"({"code":"NotAuthenticated","message":"no"})"), {}};
  };
  if (r.method != "POST" || r.target != "/v1/x509") return refuse("not POST /v1/x509");
  const InstanceIdentity* signer = nullptr;
  const std::string problem =
      oci_verification_problem(r, [&](const std::string& key_id) -> std::optional<std::string> {
        for (const InstanceIdentity& id : known_) {
          if (key_id == tenancy_ + "/fed-x509/" + id.sha1_fingerprint) {
            signer = &id;
            return id.public_key_pem;
          }
        }
        return std::nullopt;
      });
  if (!problem.empty()) return refuse("federation: " + problem);
  rapidjson::Document doc;
  doc.Parse(r.body.data(), r.body.size());
  if (doc.HasParseError() || !doc.IsObject()) return refuse("federation: body is not JSON");
  const auto member = [&](const char* name) -> std::string {
    const auto it = doc.FindMember(name);
    if (it == doc.MemberEnd() || !it->value.IsString()) return {};
    return it->value.GetString();
  };
  if (member("certificate") != pem_body(signer->cert_pem)) {
    return refuse("federation: certificate is not the signing identity's");
  }
  const auto intermediates = doc.FindMember("intermediateCertificates");
  if (intermediates == doc.MemberEnd() || !intermediates->value.IsArray() ||
      intermediates->value.Size() != 1 || !intermediates->value[0].IsString() ||
      intermediates->value[0].GetString() != pem_body(intermediate_pem_)) {
    return refuse("federation: intermediateCertificates is not the intermediate");
  }
  const std::string public_key = member("publicKey");
  if (public_key.empty() || public_key.find("BEGIN") != std::string::npos) {
    return refuse("federation: publicKey is not base64 DER");
  }
  const long long exp = static_cast<long long>(std::time(nullptr)) + lifetime_.count();
  const std::string token =
      base64url(R"({"alg":"RS256","typ":"JWT","kid":"asw"})") + "." +
      base64url(R"({"sub":"ocid1.instance.oc1.eu-frankfurt-1.test","jti":"t)" +
                std::to_string(tokens_.size() + 1) + R"(","exp":)" + std::to_string(exp) + "}") +
      "." + base64url("not-a-real-signature-" + std::to_string(tokens_.size() + 1));
  session_keys_[token] = public_key_pem_of(public_key);
  tokens_.push_back(token);
  fingerprints_.push_back(signer->sha1_fingerprint);
  return Reply{http::json_response(200, R"({"token":")" + token + R"("})"), {}};
}

}  // namespace ocirelay::test
