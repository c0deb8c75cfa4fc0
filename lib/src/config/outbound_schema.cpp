#include "config/outbound_schema.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include <rapidjson/pointer.h>

#include "config/net_checks.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr auto kDestinationTlsKeys =
    std::to_array<std::string_view>({"ca_file", "cert_file", "key_file", "verify"});
constexpr auto kPayloadKeys = std::to_array<std::string_view>({"fields"});

// Set by the relay itself (or meaningless per request): never configurable.
constexpr auto kReservedHeaders = std::to_array<std::string_view>(
    {"Content-Type", "Content-Length", "Host", "Authorization", "Idempotency-Key",
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

// A required, non-empty string under `key` (secret references resolved).
// Messages never quote the value.
std::optional<std::string> required_text(SchemaWalker& w, const ConfigNode& map,
                                         std::string_view key, const std::string& path) {
  const ConfigNode* node = w.require(map, key, path);
  if (node == nullptr) {
    return std::nullopt;
  }
  const std::string p = join(path, key);
  auto value = w.text(*node, p);
  if (!value) {
    return std::nullopt;
  }
  if (value->empty()) {
    w.error(*node, p, "must not be empty");
    return std::nullopt;
  }
  return value;
}

// An optional readable file under `key`; empty keeps the default.
void read_optional_file(SchemaWalker& w, const ConfigNode& map, std::string_view key,
                        const std::string& path, std::string& out, std::string_view what) {
  const ConfigNode* node = SchemaWalker::get(map, key);
  if (node == nullptr) {
    return;
  }
  const std::string p = join(path, key);
  auto file = w.text(*node, p);
  if (!file || file->empty()) {
    return;
  }
  w.check_readable_file(*node, p, *file, what);
  out = std::move(*file);
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

void read_oauth2_auth(SchemaWalker& w, const ConfigNode& auth, const std::string& path,
                      DestinationAuth& out) {
  if (const ConfigNode* node = w.require(auth, "token_url", path)) {
    const std::string p = join(path, "token_url");
    if (auto url = w.text(*node, p)) {
      if (auto problem = url_problem(*url)) {
        w.error(*node, p, "bad URL " + quote(redact_userinfo(node->text)) + ": " + *problem);
      } else {
        out.token_url = std::move(*url);
      }
    }
  }
  if (auto id = required_text(w, auth, "client_id", path)) {
    const std::string p = join(path, "client_id");
    if (id->find(':') != std::string::npos) {
      w.error(*SchemaWalker::get(auth, "client_id"), p,
              "must not contain ':' (Basic client authentication cannot carry it)");
    } else if (has_control(*id, false)) {
      w.error(*SchemaWalker::get(auth, "client_id"), p, "must not contain control characters");
    } else {
      out.client_id = std::move(*id);
    }
  }
  if (auto secret = required_text(w, auth, "client_secret", path)) {
    out.client_secret = std::move(*secret);
  }
  if (auto scope = required_text(w, auth, "scope", path)) {
    if (has_control(*scope, false)) {
      w.error(*SchemaWalker::get(auth, "scope"), join(path, "scope"),
              "must not contain control characters");
    } else {
      out.scope = std::move(*scope);
    }
  }
  for (const std::string_view key : {std::string_view("username"), std::string_view("password")}) {
    if (auth.find(key) != nullptr) {
      w.error(auth.key_mark(key), join(path, key),
              std::string(key) + " is only used with type: basic (this auth is type: oauth2)");
    }
  }
}

void reject_oauth2_keys(SchemaWalker& w, const ConfigNode& auth, const std::string& path,
                        std::string_view type_name) {
  for (const std::string_view key : kOAuth2AuthKeys) {
    if (auth.find(key) != nullptr) {
      w.error(auth.key_mark(key), join(path, key),
              std::string(key) + " is only used with type: oauth2 (this auth is type: " +
                  std::string(type_name) + ")");
    }
  }
}

void read_destination_tls(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                          DestinationTls& out) {
  if (!w.expect_mapping(node, path, kDestinationTlsKeys)) {
    return;
  }
  read_optional_file(w, node, "ca_file", path, out.ca_file, "CA certificate");
  read_optional_file(w, node, "cert_file", path, out.cert_file, "client certificate");
  read_optional_file(w, node, "key_file", path, out.key_file, "client private key");
  const bool has_cert = SchemaWalker::get(node, "cert_file") != nullptr;
  const bool has_key = SchemaWalker::get(node, "key_file") != nullptr;
  if (has_cert != has_key) {
    const std::string_view present = has_cert ? "cert_file" : "key_file";
    const std::string_view missing = has_cert ? "key_file" : "cert_file";
    w.error(node.key_mark(present), join(path, present),
            std::string(present) + " needs " + std::string(missing) +
                ": a client certificate and its private key go together");
  }
  w.read_bool(node, "verify", path, out.verify);
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
  if (!w.expect_mapping(node, path, kPayloadKeys)) {
    return;
  }
  const ConfigNode* fields = w.require(node, "fields", path);
  if (fields == nullptr) {
    return;
  }
  const std::string fp = join(path, "fields");
  if (!fields->is_mapping()) {
    w.error(*fields, fp,
            "expected a mapping of field names to JSON Pointers, got " +
                std::string(fields->describe()));
    return;
  }
  if (fields->keys.empty()) {
    w.error(*fields, fp, "must name at least one field (or use payload: raw)");
    return;
  }
  std::vector<std::pair<std::string, std::string>> parsed;
  bool ok = true;
  for (std::size_t i = 0; i < fields->keys.size(); ++i) {
    const std::string& name = fields->keys[i];
    const std::string p = join(fp, name);
    if (name.empty()) {
      w.error(fields->key_marks[i], p, "a field name must not be empty");
      ok = false;
      continue;
    }
    if (std::find(fields->keys.begin(), fields->keys.begin() + static_cast<std::ptrdiff_t>(i),
                  name) != fields->keys.begin() + static_cast<std::ptrdiff_t>(i)) {
      w.error(fields->key_marks[i], p, "duplicate field " + quote(name));
      ok = false;
      continue;
    }
    // Taken verbatim, like match: conditions (no secret references).
    auto pointer = w.raw_text(fields->items[i], p);
    if (!pointer) {
      ok = false;
      continue;
    }
    const rapidjson::Pointer compiled(pointer->data(), pointer->size());
    if (!compiled.IsValid()) {
      w.error(fields->items[i], p,
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

}  // namespace ocirelay::config::detail
