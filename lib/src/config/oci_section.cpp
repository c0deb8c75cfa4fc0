// `oci:`: the OCI identity the relay signs requests with (`principal`, the
// API signing key of `api_key`, `region`, the OCI `endpoints` and their
// `ca_file`), read before every other section so that `${vault:}` can be
// resolved with it; and the destinations whose `auth:` is `oci_signature`,
// resolved against it once every section has been read.
#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "config/field_table.hpp"
#include "config/net_checks.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"
#include "ocirelay/common/oci_private_key.hpp"

namespace ocirelay::config::detail {

namespace {

bool is_fingerprint(std::string_view f) {
  // 16 two-digit hex bytes, colon-separated: "20:3b:97:...".
  if (f.size() != 16 * 3 - 1) return false;
  for (std::size_t i = 0; i < f.size(); ++i) {
    const char c = f[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// An OCID of `kind` ("tenancy", "user"): "ocid1.<kind>.<realm>..<id>", free of
// the characters a keyId cannot carry.
template <std::string OciApiKey::*Member>
void read_ocid(SchemaWalker& w, const ConfigNode& value, const std::string& path, OciApiKey& out,
               std::string_view kind) {
  auto text = w.text(value, path);
  if (!text) return;
  const std::string prefix = "ocid1." + std::string(kind) + ".";
  bool clean = true;
  for (const char c : *text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '/' || c == '"' || c == '\\') clean = false;
  }
  if (!text->starts_with(prefix) || !clean) {
    w.error(value, path,
            "bad " + std::string(kind) + " OCID " + quote(value.text) + ": expected " + prefix +
                "<realm>..<unique id>");
    return;
  }
  out.*Member = std::move(*text);
}

constexpr auto kApiKeyFields = fields<OciApiKey>({
    {"tenancy",
     [](auto& w, auto& value, auto& path, OciApiKey& out) {
       read_ocid<&OciApiKey::tenancy>(w, value, path, out, "tenancy");
     },
     Presence::required},
    {"user",
     [](auto& w, auto& value, auto& path, OciApiKey& out) {
       read_ocid<&OciApiKey::user>(w, value, path, out, "user");
     },
     Presence::required},
    {"fingerprint",
     [](auto& w, auto& value, auto& path, OciApiKey& out) {
       if (auto text = w.text(value, path)) {
         if (!is_fingerprint(*text)) {
           w.error(value, path,
                   "bad fingerprint " + quote(value.text) +
                       ": expected 16 colon-separated hex bytes, as the OCI console shows "
                       "(such as 20:3b:97:13:55:1c:5b:0d:d3:37:d8:50:4e:c5:3a:34)");
         } else {
           for (char& c : *text) c = (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
           out.fingerprint = std::move(*text);
         }
       }
     },
     Presence::required},
    {"key_file",
     [](auto& w, auto& value, auto& path, OciApiKey& out) {
       read_file(w, value, path, out.key_file, "OCI API private key", true);
     },
     Presence::required},
    {"passphrase",
     [](auto& w, auto& value, auto& path, OciApiKey& out) {
       // A secret: never quoted.
       assign(out.passphrase, w.text(value, path));
     }},
});

// The key file's content, or nullopt when it cannot be read (already
// reported by read_file's check).
std::optional<std::string> read_key_text(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return std::nullopt;
  return std::move(text).str();
}

void read_api_key(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                  std::optional<OciApiKey>& out) {
  OciApiKey key;
  const std::size_t errors_before = w.error_count();
  if (!kApiKeyFields.read(w, node, path, key) || w.error_count() != errors_before) {
    return;
  }
  const std::string key_path = SchemaWalker::join(path, "key_file");
  const ConfigNode& file_node = *SchemaWalker::get(node, "key_file");
  auto text = read_key_text(key.key_file);
  if (!text) {
    w.error(file_node, key_path, "cannot read OCI API private key file " + quote(file_node.text));
    return;
  }
  auto parsed = OciPrivateKey::from_pem(*text, key.passphrase);
  if (!parsed) {
    w.error(file_node, key_path,
            "cannot use OCI API private key file " + quote(file_node.text) + ": " + parsed.error());
    return;
  }
  const std::string actual = parsed->fingerprint();
  if (actual != key.fingerprint) {
    const ConfigNode& f = *SchemaWalker::get(node, "fingerprint");
    w.error(f, SchemaWalker::join(path, "fingerprint"),
            "fingerprint " + quote(f.text) + " is not the key's: the public key of " +
                quote(file_node.text) + " has fingerprint " + actual);
    return;
  }
  key.key_pem = std::move(*text);
  out = std::move(key);
}

// A base URL of an OCI service: http(s), a host, no query, no fragment; kept
// without a trailing '/'. No link-local address (url_problem), except the
// metadata service's default for `metadata`: the one link-local address the
// relay contacts.
template <std::string OciEndpoints::*Member>
void read_endpoint(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                   OciEndpoints& out) {
  auto url = w.text(value, path);
  if (!url) return;
  while (url->size() > 1 && url->back() == '/') url->pop_back();
  if (Member == &OciEndpoints::metadata && *url == OciEndpoints{}.metadata) {
    out.*Member = std::move(*url);
    return;
  }
  const std::string shown = quote(redact_userinfo(value.text));
  if (auto problem = url_problem(*url)) {
    w.error(value, path, "bad URL " + shown + ": " + *problem);
  } else if (url->find('?') != std::string::npos) {
    w.error(value, path, "bad URL " + shown + ": a base URL takes no query");
  } else {
    out.*Member = std::move(*url);
  }
}

constexpr auto kEndpointFields = fields<OciEndpoints>({
    {"metadata", read_endpoint<&OciEndpoints::metadata>},
    {"federation", read_endpoint<&OciEndpoints::federation>},
    {"secrets", read_endpoint<&OciEndpoints::secrets>},
});

// A region identifier: "eu-frankfurt-1" (lowercase letters, digits, '-').
void read_region(SchemaWalker& w, const ConfigNode& value, const std::string& path, Oci& out) {
  auto text = w.text(value, path);
  if (!text) return;
  const bool ok =
      !text->empty() && text->size() <= 64 && std::all_of(text->begin(), text->end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
  if (!ok) {
    w.error(value, path,
            "bad region " + quote(value.text) +
                ": expected an OCI region identifier such as eu-frankfurt-1");
    return;
  }
  out.region = std::move(*text);
}

constexpr auto kOciFields = fields<Oci>({
    {"principal", [](auto& w, auto& value, auto& path,
                     Oci& out) { read_oci_principal(w, value, path, out.principal, true); }},
    {"region", read_region},
    // Read by read_oci after the others, once ${vault:} can be resolved.
    {"api_key", [](auto&, auto&, auto&, Oci&) {}},
    {"endpoints", mapping_field<&Oci::endpoints, kEndpointFields>},
    {"ca_file", [](auto& w, auto& value, auto& path,
                   Oci& out) { read_file(w, value, path, out.ca_file, "OCI CA bundle", false); }},
});

// Headers the signature sets, which a destination's `headers:` must not.
constexpr auto kSignedHeaders = std::to_array<std::string_view>({"date", "x-content-sha256"});

bool same_name(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Reports each of the destination's `headers:` that the signature sets.
void check_signed_headers(SchemaWalker& w, const ConfigNode& dest_node, std::size_t i) {
  const ConfigNode* headers = SchemaWalker::get(dest_node, "headers");
  if (headers == nullptr || !headers->is_mapping()) return;
  for (std::size_t h = 0; h < headers->keys.size(); ++h) {
    for (const std::string_view signed_header : kSignedHeaders) {
      if (same_name(headers->keys[h], signed_header)) {
        w.error(headers->key_marks[h],
                SchemaWalker::join(
                    SchemaWalker::join(SchemaWalker::index("destinations", i), "headers"),
                    headers->keys[h]),
                "header " + quote(headers->keys[h]) +
                    " is set by the OCI signature (auth type oci_signature)");
      }
    }
  }
}

}  // namespace

void read_oci(SchemaWalker& w, const ConfigNode& value, const std::string& path, Oci& out) {
  if (!kOciFields.read(w, value, path, out)) {
    w.use_vault_identity(out);  // `oci` is not a mapping: the defaults
    return;
  }
  // The api_key's passphrase may come from the Vault, through the instance
  // principal (with the api_key principal, the walker refuses it).
  w.use_vault_identity(out);
  if (const ConfigNode* key = SchemaWalker::get(value, "api_key")) {
    read_api_key(w, *key, SchemaWalker::join(path, "api_key"), out.api_key);
  }
  w.use_vault_identity(out);
  if (out.principal == OciPrincipal::api_key && SchemaWalker::get(value, "api_key") == nullptr) {
    w.error(value.key_mark("principal"), SchemaWalker::join(path, "principal"),
            "principal api_key needs the oci.api_key section (tenancy, user, fingerprint, "
            "key_file)");
  }
}

void resolve_oci_destinations(SchemaWalker& w, const ConfigNode& root, const Oci& oci,
                              std::vector<Destination>& destinations) {
  const ConfigNode* list = SchemaWalker::get(root, "destinations");
  if (list == nullptr || !list->is_sequence()) return;
  for (std::size_t i = 0; i < destinations.size() && i < list->items.size(); ++i) {
    Destination& d = destinations[i];
    if (d.auth.type != DestinationAuth::Type::oci_signature) continue;
    const ConfigNode& dest_node = list->items[i];
    const ConfigNode* auth = SchemaWalker::get(dest_node, "auth");
    if (auth == nullptr) continue;
    const std::string auth_path =
        SchemaWalker::join(SchemaWalker::index("destinations", i), "auth");
    const bool explicit_principal = SchemaWalker::get(*auth, "principal") != nullptr;
    if (!explicit_principal) d.auth.principal = oci.principal;
    if (d.auth.principal == OciPrincipal::none) {
      if (!explicit_principal) {
        w.error(auth->key_mark("type"), SchemaWalker::join(auth_path, "type"),
                "auth type oci_signature needs an OCI principal, and oci.principal is none: set "
                "oci.principal (with oci.api_key), or auth.principal");
      }
      continue;
    }
    d.auth.oci = oci;
    if (d.auth.principal == OciPrincipal::instance) {
      check_signed_headers(w, dest_node, i);
      continue;
    }
    if (!oci.api_key) {
      const std::string_view key = explicit_principal ? "principal" : "type";
      w.error(auth->key_mark(key), SchemaWalker::join(auth_path, key),
              "auth type oci_signature with principal api_key needs the oci.api_key section");
      continue;
    }
    d.auth.api_key = *oci.api_key;
    check_signed_headers(w, dest_node, i);
  }
}

}  // namespace ocirelay::config::detail
