#include "ocirelay/oci/security_token.hpp"

#include <cmath>
#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "ocirelay/common/base64.hpp"

namespace ocirelay::oci {

namespace {

// base64url (RFC 4648 section 5) without padding, as JWTs carry it.
std::optional<std::string> base64url_decode(std::string_view in) {
  std::string standard(in);
  for (char& c : standard) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  while (standard.size() % 4 != 0) standard += '=';
  return base64_decode(standard);
}

}  // namespace

Result<std::chrono::system_clock::time_point> jwt_expiry(std::string_view token) {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos) return fail(std::string("the token is not a JWT"));
  const auto payload = base64url_decode(token.substr(first + 1, second - first - 1));
  if (!payload) return fail(std::string("the token's payload is not base64url"));
  rapidjson::Document doc;
  doc.Parse(payload->data(), payload->size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return fail(std::string("the token's payload is not a JSON object"));
  }
  const auto exp = doc.FindMember("exp");
  if (exp == doc.MemberEnd() || !exp->value.IsNumber()) {
    return fail(std::string("the token has no expiry (exp)"));
  }
  const double seconds = exp->value.GetDouble();
  // Between 1970 and the year 10000: anything else is not a real expiry.
  if (!(seconds > 0) || seconds > 253402300799.0) {
    return fail(std::string("the token's expiry (exp) is out of range"));
  }
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(static_cast<long long>(std::floor(seconds))));
}

}  // namespace ocirelay::oci
