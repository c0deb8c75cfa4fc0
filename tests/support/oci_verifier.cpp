#include "support/oci_verifier.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <stdexcept>

namespace ocirelay::test {

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string base64(const unsigned char* data, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

bool rsa_sha256_verifies(const std::string& public_pem, const std::string& text,
                         const std::vector<unsigned char>& signature) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(
      BIO_new_mem_buf(public_pem.data(), static_cast<int>(public_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!key || !ctx) return false;
  return EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                          reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string run_command(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("cannot run " + command);
  std::string out;
  std::array<char, 256> buf{};
  while (std::fgets(buf.data(), buf.size(), pipe.get()) != nullptr) out += buf.data();
  return out;
}

std::string base64_of(const std::string& bytes) {
  return base64(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

std::string sha256_b64(const std::string& body) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_Digest(body.data(), body.size(), md.data(), &n, EVP_sha256(), nullptr);
  return base64(md.data(), n);
}

std::vector<unsigned char> unbase64(const std::string& text) {
  std::vector<unsigned char> out(text.size());
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return {};
  std::size_t len = static_cast<std::size_t>(n);
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() > 1 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

std::string public_key_pem_of(const std::string& der_base64) {
  std::string pem = "-----BEGIN PUBLIC KEY-----\n";
  for (std::size_t at = 0; at < der_base64.size(); at += 64) {
    pem += der_base64.substr(at, 64) + "\n";
  }
  return pem + "-----END PUBLIC KEY-----\n";
}

std::map<std::string, std::string> signature_params(const std::string& header) {
  std::map<std::string, std::string> out;
  if (header.rfind("Signature ", 0) != 0) return out;
  std::size_t at = 10;
  while (at < header.size()) {
    const auto eq = header.find("=\"", at);
    if (eq == std::string::npos) break;
    const auto end = header.find('"', eq + 2);
    if (end == std::string::npos) break;
    out[header.substr(at, eq - at)] = header.substr(eq + 2, end - eq - 2);
    at = end + 1;
    if (at < header.size() && header[at] == ',') ++at;
  }
  return out;
}

std::string oci_verification_problem(
    const RecordedRequest& r,
    const std::function<std::optional<std::string>(const std::string& key_id)>& public_key_of) {
  const auto params = signature_params(std::string(r.headers.get("Authorization").value_or("")));
  if (params.empty()) return "no Signature authorization";
  if (params.count("version") == 0 || params.at("version") != "1") return "version is not 1";
  if (params.count("algorithm") == 0 || params.at("algorithm") != "rsa-sha256") return "algorithm";
  if (params.count("keyId") == 0) return "no keyId";
  const auto public_pem = public_key_of(params.at("keyId"));
  if (!public_pem) return "wrong keyId";
  if (params.count("headers") == 0 || params.count("signature") == 0) return "incomplete";
  const std::string& listed = params.at("headers");
  const bool with_body = r.method == "POST" || r.method == "PUT";
  std::vector<std::string> required{"date", "(request-target)", "host"};
  if (with_body) {
    for (const char* h : {"content-length", "content-type", "x-content-sha256"})
      required.push_back(h);
  }
  for (const std::string& name : required) {
    if (!contains(" " + listed + " ", " " + name + " ")) return "headers= lacks " + name;
  }
  if (with_body) {
    if (r.headers.get("x-content-sha256").value_or("") != sha256_b64(r.body)) return "body hash";
    if (r.headers.get("Content-Length").value_or("") != std::to_string(r.body.size())) {
      return "content-length";
    }
  }
  std::tm tm{};
  const std::string date(r.headers.get("date").value_or(""));
  const char* end = ::strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return "date is not RFC 7231: " + date;
  if (std::abs(std::difftime(::timegm(&tm), std::time(nullptr))) > 300) return "date skewed";

  // The signing string, rebuilt from the request as it arrived.
  std::string text;
  std::size_t at = 0;
  while (at <= listed.size()) {
    auto space = listed.find(' ', at);
    if (space == std::string::npos) space = listed.size();
    const std::string name = listed.substr(at, space - at);
    if (!text.empty()) text += '\n';
    if (name == "(request-target)") {
      text += "(request-target): " + lower(r.method) + " " + r.target;
    } else {
      const auto value = r.headers.get(name);
      if (!value) return "signed header " + name + " is absent";
      text += name + ": " + std::string(*value);
    }
    at = space + 1;
  }
  if (!rsa_sha256_verifies(*public_pem, text, unbase64(params.at("signature")))) {
    return "signature does not verify";
  }
  return {};
}

std::string oci_verification_problem(const RecordedRequest& r, const std::string& key_id,
                                     const std::string& public_pem) {
  return oci_verification_problem(r, [&](const std::string& id) -> std::optional<std::string> {
    if (id != key_id) return std::nullopt;
    return public_pem;
  });
}

}  // namespace ocirelay::test
