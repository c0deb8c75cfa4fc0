#include "oci/oci_error.hpp"

#include <rapidjson/document.h>

#include "ocirelay/common/printable_text.hpp"

namespace ocirelay::oci {

namespace {

std::string_view string_member(const rapidjson::Value& object, const char* name) {
  const auto it = object.FindMember(name);
  if (it == object.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

}  // namespace

std::string oci_http_failure(const http::ClientResponse& response, bool with_message) {
  std::string reason = "HTTP " + std::to_string(response.status);
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  if (doc.HasParseError() || !doc.IsObject()) return reason;
  const std::string_view code = string_member(doc, "code");
  if (code.empty()) return reason;
  reason += " (" + printable_text(code, 64);
  const std::string_view message = string_member(doc, "message");
  if (with_message && !message.empty()) reason += ": " + printable_text(message, 200);
  return reason + ")";
}

}  // namespace ocirelay::oci
