#include "config/outbound_schema.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <rapidjson/pointer.h>

#include "config/field_table.hpp"
#include "config/net_checks.hpp"
#include "config/value_readers.hpp"

namespace ocirelay::config::detail {

namespace {

// Set by the relay itself (or meaningless per request): never configurable.
constexpr auto kReservedHeaders = std::to_array<std::string_view>(
    {"Content-Type", "Content-Length", "Host", "Authorization", "Idempotency-Key", "X-Event-Count",
     "Transfer-Encoding", "Connection", "User-Agent", "Keep-Alive", "TE", "Trailer", "Upgrade",
     "Proxy-Connection", "Expect"});

std::string join(std::string_view path, std::string_view key) {
  return SchemaWalker::join(path, key);
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

bool has_control(std::string_view s, bool tab_ok) {
  return std::any_of(s.begin(), s.end(), [tab_ok](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && !(tab_ok && c == '\t')) || u == 0x7f;
  });
}

// A non-empty string (secret references resolved). Messages never quote the
// value.
std::optional<std::string> non_empty_text(SchemaWalker& w, const ConfigNode& value,
                                          const std::string& path) {
  auto text = w.text(value, path);
  if (text && text->empty()) {
    w.error(value, path, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::string pointer_problem(rapidjson::PointerParseErrorCode code) {
  switch (code) {
    case rapidjson::kPointerParseErrorTokenMustBeginWithSolidus:
      return "it must be empty or start with '/' (such as \"/data/resourceName\")";
    case rapidjson::kPointerParseErrorInvalidEscape:
      return "'~' must be followed by 0 or 1";
    case rapidjson::kPointerParseErrorInvalidPercentEncoding:
      return "bad percent-encoding";
    case rapidjson::kPointerParseErrorCharacterMustPercentEncode:
      return "a character must be percent-encoded in the URI fragment form";
    case rapidjson::kPointerParseErrorNone:
      break;
  }
  return "not a JSON Pointer";
}

// `auth:` is read in parts: its type, then the keys of that type.
struct AuthType {
  DestinationAuth::Type type = DestinationAuth::Type::none;
  bool known = true;
};

constexpr auto kAuthTypeFields = fields<AuthType>({
    {"type",
     [](auto& w, auto& value, auto& path, AuthType& out) {
       auto text = w.text(value, path);
       if (!text) {
         out.known = false;
       } else if (*text == "none") {
         out.type = DestinationAuth::Type::none;
       } else if (*text == "basic") {
         out.type = DestinationAuth::Type::basic;
       } else if (*text == "oauth2") {
         out.type = DestinationAuth::Type::oauth2;
       } else if (*text == "oci_signature") {
         out.type = DestinationAuth::Type::oci_signature;
       } else {
         w.error(value, path,
                 "bad auth type " + quote(value.text) +
                     "; expected none, basic, oauth2 or oci_signature");
         out.known = false;
       }
     }},
});

// type: basic reads kCredentialFields (username, password).

// type: oauth2, client credentials against a token endpoint.
constexpr auto kOAuth2Fields = fields<DestinationAuth>({
    {"token_url",
     [](auto& w, auto& value, auto& path, DestinationAuth& out) {
       if (auto url = w.text(value, path)) {
         if (auto problem = url_problem(*url)) {
           w.error(value, path, "bad URL " + quote(redact_userinfo(value.text)) + ": " + *problem);
         } else {
           out.token_url = std::move(*url);
         }
       }
     },
     Presence::required},
    {"client_id",
     [](auto& w, auto& value, auto& path, DestinationAuth& out) {
       if (auto id = non_empty_text(w, value, path)) {
         if (id->find(':') != std::string::npos) {
           w.error(value, path,
                   "must not contain ':' (Basic client authentication cannot carry it)");
         } else if (has_control(*id, false)) {
           w.error(value, path, "must not contain control characters");
         } else {
           out.client_id = std::move(*id);
         }
       }
     },
     Presence::required},
    {"client_secret",
     [](auto& w, auto& value, auto& path, DestinationAuth& out) {
       assign(out.client_secret, non_empty_text(w, value, path));
     },
     Presence::required},
    {"scope",
     [](auto& w, auto& value, auto& path, DestinationAuth& out) {
       if (auto scope = non_empty_text(w, value, path)) {
         if (has_control(*scope, false)) {
           w.error(value, path, "must not contain control characters");
         } else {
           out.scope = std::move(*scope);
         }
       }
     },
     Presence::required},
});

// type: oci_signature, signed by an OCI principal (the `oci:` section).
constexpr auto kOciSignatureFields = fields<DestinationAuth>({
    {"principal",
     [](auto& w, auto& value, auto& path, DestinationAuth& out) {
       read_oci_principal(w, value, path, out.principal, false);
     }},
});

constexpr auto kAuthKeys = concat_keys(kAuthTypeFields.keys(), kCredentialFields.keys(),
                                       kOAuth2Fields.keys(), kOciSignatureFields.keys());

// Reports each of `keys` present in an `auth:` of type `this_type`, as only
// used with type `owner`.
void reject_keys(SchemaWalker& w, const ConfigNode& auth, const std::string& path,
                 std::span<const std::string_view> keys, std::string_view owner,
                 std::string_view this_type) {
  for (const std::string_view key : keys) {
    if (auth.find(key) != nullptr) {
      w.error(auth.key_mark(key), join(path, key),
              std::string(key) + " is only used with type: " + std::string(owner) +
                  " (this auth is type: " + std::string(this_type) + ")");
    }
  }
}

constexpr auto kDestinationTlsFields = fields<DestinationTls>({
    {"ca_file",
     [](auto& w, auto& value, auto& path, DestinationTls& out) {
       read_file(w, value, path, out.ca_file, "CA certificate", false);
     }},
    {"cert_file",
     [](auto& w, auto& value, auto& path, DestinationTls& out) {
       read_file(w, value, path, out.cert_file, "client certificate", false);
     }},
    {"key_file",
     [](auto& w, auto& value, auto& path, DestinationTls& out) {
       read_file(w, value, path, out.key_file, "client private key", false);
     }},
    {"verify", bool_field<&DestinationTls::verify>},
});

// `payload: { fields: { name: "/json/pointer", ... } }`: the JSON Pointers,
// taken verbatim like match: conditions (no secret references).
void read_payload_fields(SchemaWalker& w, const ConfigNode& map, const std::string& fp,
                         DestinationPayload& out) {
  if (!map.is_mapping()) {
    w.error(map, fp,
            "expected a mapping of field names to JSON Pointers, got " +
                std::string(map.describe()));
    return;
  }
  if (map.keys.empty()) {
    w.error(map, fp, "must name at least one field (or use payload: raw)");
    return;
  }
  std::vector<std::pair<std::string, std::string>> parsed;
  bool ok = true;
  for (std::size_t i = 0; i < map.keys.size(); ++i) {
    const std::string& name = map.keys[i];
    const std::string p = join(fp, name);
    if (name.empty()) {
      w.error(map.key_marks[i], p, "a field name must not be empty");
      ok = false;
      continue;
    }
    if (std::find(map.keys.begin(), map.keys.begin() + static_cast<std::ptrdiff_t>(i),
                  name) != map.keys.begin() + static_cast<std::ptrdiff_t>(i)) {
      w.error(map.key_marks[i], p, "duplicate field " + quote(name));
      ok = false;
      continue;
    }
    auto pointer = w.raw_text(map.items[i], p);
    if (!pointer) {
      ok = false;
      continue;
    }
    const rapidjson::Pointer compiled(pointer->data(), pointer->size());
    if (!compiled.IsValid()) {
      w.error(map.items[i], p,
              "bad JSON Pointer " + quote(*pointer) + ": " +
                  pointer_problem(compiled.GetParseErrorCode()) + " (at offset " +
                  std::to_string(compiled.GetParseErrorOffset()) + ")");
      ok = false;
      continue;
    }
    parsed.emplace_back(name, std::move(*pointer));
  }
  if (ok) {
    out.kind = DestinationPayload::Kind::fields;
    out.fields = std::move(parsed);
  }
}

constexpr auto kPayloadFields = fields<DestinationPayload>({
    {"fields", read_payload_fields, Presence::required},
});

}  // namespace

bool is_http_token(std::string_view name) noexcept {
  if (name.empty()) {
    return false;
  }
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSpecials.find(c) != std::string_view::npos;
  });
}

void read_destination_auth(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                           DestinationAuth& out) {
  if (!w.expect_mapping(node, path, kAuthKeys)) {
    return;
  }
  AuthType type;
  kAuthTypeFields.read_fields(w, node, path, type);
  if (!type.known) {
    return;
  }
  out.type = type.type;
  switch (type.type) {
    case DestinationAuth::Type::oauth2:
      kOAuth2Fields.read_fields(w, node, path, out);
      reject_keys(w, node, path, kCredentialFields.keys(), "basic", "oauth2");
      reject_keys(w, node, path, kOciSignatureFields.keys(), "oci_signature", "oauth2");
      return;
    case DestinationAuth::Type::oci_signature:
      kOciSignatureFields.read_fields(w, node, path, out);
      reject_keys(w, node, path, kCredentialFields.keys(), "basic", "oci_signature");
      reject_keys(w, node, path, kOAuth2Fields.keys(), "oauth2", "oci_signature");
      return;
    case DestinationAuth::Type::basic: {
      reject_keys(w, node, path, kOAuth2Fields.keys(), "oauth2", "basic");
      reject_keys(w, node, path, kOciSignatureFields.keys(), "oci_signature", "basic");
      BasicCredential credential;
      kCredentialFields.read_fields(w, node, path, credential);
      out.username = std::move(credential.username);
      out.password = std::move(credential.password);
      return;
    }
    case DestinationAuth::Type::none:
      reject_keys(w, node, path, kOAuth2Fields.keys(), "oauth2", "none");
      reject_keys(w, node, path, kCredentialFields.keys(), "basic", "none");
      reject_keys(w, node, path, kOciSignatureFields.keys(), "oci_signature", "none");
      return;
  }
}

void read_destination_tls(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                          DestinationTls& out) {
  if (!kDestinationTlsFields.read(w, node, path, out)) {
    return;
  }
  const bool has_cert = SchemaWalker::get(node, "cert_file") != nullptr;
  const bool has_key = SchemaWalker::get(node, "key_file") != nullptr;
  if (has_cert != has_key) {
    const std::string_view present = has_cert ? "cert_file" : "key_file";
    const std::string_view missing = has_cert ? "key_file" : "cert_file";
    w.error(node.key_mark(present), join(path, present),
            std::string(present) + " needs " + std::string(missing) +
                ": a client certificate and its private key go together");
  }
}

void read_destination_headers(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                              std::vector<DestinationHeader>& out) {
  if (!node.is_mapping()) {
    w.error(node, path,
            "expected a mapping of header names to values, got " + std::string(node.describe()));
    return;
  }
  for (std::size_t i = 0; i < node.keys.size(); ++i) {
    const std::string& name = node.keys[i];
    const std::string p = join(path, name);
    const Mark at = node.key_marks[i];
    if (!is_http_token(name)) {
      w.error(at, p,
              "bad header name " + quote(name) +
                  ": use letters, digits and !#$%&'*+-.^_`|~ (an HTTP token)");
      continue;
    }
    const auto reserved = std::find_if(kReservedHeaders.begin(), kReservedHeaders.end(),
                                       [&](std::string_view r) { return iequal(r, name); });
    if (reserved != kReservedHeaders.end()) {
      w.error(at, p,
              "header " + quote(name) + " is set by the relay and cannot be configured" +
                  (iequal(name, "Authorization") ? " (use auth:)" : ""));
      continue;
    }
    bool duplicate = false;
    for (std::size_t j = 0; j < i && !duplicate; ++j) {
      if (iequal(node.keys[j], name)) {
        w.error(at, p,
                "duplicate header " + quote(name) + " (header names ignore case; first given as " +
                    quote(node.keys[j]) + ")");
        duplicate = true;
      }
    }
    if (duplicate) {
      continue;
    }
    const ConfigNode& value_node = node.items[i];
    if (value_node.is_null()) {
      w.error(value_node, p, "header " + quote(name) + " has no value");
      continue;
    }
    auto value = w.text(value_node, p);
    if (!value) {
      continue;
    }
    // The value may be a resolved secret: described, never quoted.
    if (has_control(*value, true)) {
      w.error(value_node, p, "a header value must not contain line breaks or control characters");
      continue;
    }
    out.push_back(DestinationHeader{name, std::move(*value)});
  }
}

void read_destination_payload(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                              DestinationPayload& out) {
  if (node.is_scalar()) {
    if (node.text == "raw") {
      out.kind = DestinationPayload::Kind::raw;
      out.fields.clear();
    } else {
      w.error(node, path,
              "bad payload " + quote(node.text) +
                  "; expected raw or a mapping { fields: { name: \"/json/pointer\", ... } }");
    }
    return;
  }
  kPayloadFields.read(w, node, path, out);
}

}  // namespace ocirelay::config::detail
