// The configuration schema (issue #2, "Configuration"), shared by YAML and JSON:
// both are read into a ConfigNode tree, which this file walks into Config.
#include "ocirelay/config/loader.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <exception>
#include <limits>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include "config/admin_schema.hpp"
#include "config/config_node.hpp"
#include "config/json_reader.hpp"
#include "config/net_checks.hpp"
#include "config/outbound_schema.hpp"
#include "config/schema_walker.hpp"
#include "config/yaml_reader.hpp"
#include "ocirelay/filter/condition.hpp"

namespace ocirelay::config {

namespace {

using detail::ConfigNode;
using detail::quote;
using detail::SchemaWalker;

constexpr auto kTopKeys = std::to_array<std::string_view>(
    {"server", "storage", "log", "destinations", "routes", "admin"});
constexpr auto kServerKeys = std::to_array<std::string_view>(
    {"listen", "tls", "max_body_bytes", "max_header_bytes", "max_connections", "header_timeout",
     "body_timeout", "idle_timeout", "write_timeout", "shutdown_timeout", "auth", "ons"});
constexpr auto kServerTlsKeys = std::to_array<std::string_view>({"cert_file", "key_file"});
constexpr auto kIngressAuthKeys = std::to_array<std::string_view>({"basic", "bearer_tokens"});
constexpr auto kCredentialKeys = std::to_array<std::string_view>({"username", "password"});
constexpr auto kOnsKeys = std::to_array<std::string_view>(
    {"auto_confirm", "confirm_url_hosts", "ca_file", "confirm_timeout"});
constexpr auto kStorageKeys =
    std::to_array<std::string_view>({"path", "dedupe_window", "reserve", "max_size"});
constexpr auto kLogKeys =
    std::to_array<std::string_view>(
    {"level", "file", "format", "max_size", "max_files", "flush_interval"});
constexpr auto kLogLevels =
    std::to_array<std::string_view>({"trace", "debug", "info", "warn", "error"});
constexpr auto kDestinationKeys = std::to_array<std::string_view>(
    {"name", "url", "auth", "timeout", "retry", "tls", "concurrency", "rate_limit", "headers",
     "payload"});
constexpr auto kDestinationAuthKeys = std::to_array<std::string_view>(
    {"type", "username", "password", "token_url", "client_id", "client_secret", "scope"});
constexpr auto kRetryKeys = std::to_array<std::string_view>(
    {"initial_backoff", "max_backoff", "max_age", "max_attempts", "retry_on", "dead_letter_on"});
constexpr auto kRouteKeys = std::to_array<std::string_view>(
    {"name", "match", "compartment", "bucket", "event_types", "destinations"});

constexpr std::uint64_t kMaxConcurrency = 1024;
// The smallest storage.max_size: the schema, some events and room for
// delivery bookkeeping.
constexpr std::uint64_t kMinStorageMaxSize = 1024 * 1024;
constexpr std::uint64_t kMaxSize = std::numeric_limits<std::size_t>::max();
// Timeouts and backoffs must be positive; 1ms is the smallest representable.
constexpr Duration kPositive{1};

std::string join(std::string_view path, std::string_view key) {
  return SchemaWalker::join(path, key);
}
std::string index(std::string_view path, std::size_t i) { return SchemaWalker::index(path, i); }

bool ends_with_json(std::string_view name) {
  constexpr std::string_view kExt = ".json";
  if (name.size() < kExt.size()) {
    return false;
  }
  const std::string_view tail = name.substr(name.size() - kExt.size());
  for (std::size_t i = 0; i < kExt.size(); ++i) {
    const char c = tail[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kExt[i]) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------- helpers --

// A configured name (destination or route): used in logs, metrics and
// storage, so kept to a safe alphabet.
bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// A name with the node it came from, for the cross-reference checks.
struct NameRef {
  std::string name;  // resolved
  const ConfigNode* node = nullptr;
  std::string path;
};

std::optional<NameRef> read_name(SchemaWalker& w, const ConfigNode& map, const std::string& path,
                                 std::string& out) {
  const ConfigNode* node = w.require(map, "name", path);
  if (node == nullptr) {
    return std::nullopt;
  }
  const std::string p = join(path, "name");
  auto name = w.text(*node, p);
  if (!name) {
    return std::nullopt;
  }
  if (!is_valid_name(*name)) {
    w.error(*node, p,
            "bad name " + quote(node->text) + ": use 1 to 128 letters, digits, '.', '_' or '-'");
    return std::nullopt;
  }
  out = *name;
  return NameRef{std::move(*name), node, p};
}

// A path to a file that must be readable (TLS material). Empty optional
// values keep their default (empty: system trust store).
void read_file_path(SchemaWalker& w, const ConfigNode& map, std::string_view key,
                    const std::string& path, std::string& out, std::string_view what,
                    bool required) {
  const ConfigNode* node = required ? w.require(map, key, path) : SchemaWalker::get(map, key);
  if (node == nullptr) {
    return;
  }
  const std::string p = join(path, key);
  auto file = w.text(*node, p);
  if (!file) {
    return;
  }
  if (file->empty() && !required) {
    return;
  }
  w.check_readable_file(*node, p, *file, what);
  out = std::move(*file);
}

// username and password, both required, for Basic auth.
void read_credentials(SchemaWalker& w, const ConfigNode& map, const std::string& path,
                      std::string& username, std::string& password) {
  if (const ConfigNode* node = w.require(map, "username", path)) {
    const std::string p = join(path, "username");
    if (auto user = w.text(*node, p)) {
      if (user->empty()) {
        w.error(*node, p, "must not be empty");
      } else if (user->find(':') != std::string::npos) {
        w.error(*node, p, "must not contain ':' (Basic authentication cannot carry it)");
      } else {
        username = std::move(*user);
      }
    }
  }
  if (const ConfigNode* node = w.require(map, "password", path)) {
    const std::string p = join(path, "password");
    if (auto pass = w.text(*node, p)) {
      if (pass->empty()) {
        w.error(*node, p, "must not be empty");
      } else {
        password = std::move(*pass);
      }
    }
  }
}

// ----------------------------------------------------------------- server --

void read_listen(SchemaWalker& w, const ConfigNode& server, const std::string& path,
                 ListenAddress& out) {
  const ConfigNode* node = SchemaWalker::get(server, "listen");
  if (node == nullptr) {
    return;
  }
  const std::string p = join(path, "listen");
  auto text = w.text(*node, p);
  if (!text) {
    return;
  }
  auto address = detail::parse_listen_address(*text);
  if (!address) {
    w.error(*node, p, "bad listen address " + quote(node->text) + ": " + address.error());
    return;
  }
  out = std::move(address).value();
}

void read_server_tls(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                     std::optional<ServerTls>& out) {
  if (!w.expect_mapping(node, path, kServerTlsKeys)) {
    return;
  }
  ServerTls tls;
  read_file_path(w, node, "cert_file", path, tls.cert_file, "TLS certificate", true);
  read_file_path(w, node, "key_file", path, tls.key_file, "TLS private key", true);
  out = std::move(tls);
}

void read_ingress_auth(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                       std::optional<IngressAuth>& out) {
  if (!w.expect_mapping(node, path, kIngressAuthKeys)) {
    return;
  }
  const std::size_t errors_before = w.error_count();
  IngressAuth auth;
  if (const ConfigNode* basic = SchemaWalker::get(node, "basic")) {
    const std::string bp = join(path, "basic");
    if (w.expect_sequence(*basic, bp, "{username, password} mappings")) {
      for (std::size_t i = 0; i < basic->items.size(); ++i) {
        const ConfigNode& item = basic->items[i];
        const std::string ip = index(bp, i);
        if (!w.expect_mapping(item, ip, kCredentialKeys)) {
          continue;
        }
        BasicCredential credential;
        read_credentials(w, item, ip, credential.username, credential.password);
        auth.basic.push_back(std::move(credential));
      }
    }
  }
  if (const ConfigNode* tokens = SchemaWalker::get(node, "bearer_tokens")) {
    const std::string tp = join(path, "bearer_tokens");
    if (auto list = w.text_list(*tokens, tp, false)) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        if ((*list)[i].empty()) {
          w.error(tokens->items[i], index(tp, i), "a bearer token must not be empty");
        }
      }
      auth.bearer_tokens = std::move(*list);
    }
  }
  if (w.error_count() == errors_before && auth.basic.empty() && auth.bearer_tokens.empty()) {
    w.error(node, path,
            "configures no credentials: give basic and/or bearer_tokens, or remove auth to "
            "accept requests without authentication");
  }
  out = std::move(auth);
}

void read_ons(SchemaWalker& w, const ConfigNode& node, const std::string& path, Ons& out) {
  if (!w.expect_mapping(node, path, kOnsKeys)) {
    return;
  }
  w.read_bool(node, "auto_confirm", path, out.auto_confirm);
  if (const ConfigNode* hosts = SchemaWalker::get(node, "confirm_url_hosts")) {
    const std::string hp = join(path, "confirm_url_hosts");
    if (w.expect_sequence(*hosts, hp, "host name patterns")) {
      std::vector<std::string> patterns;
      for (std::size_t i = 0; i < hosts->items.size(); ++i) {
        const std::string ip = index(hp, i);
        auto pattern = w.text(hosts->items[i], ip);
        if (!pattern) {
          continue;
        }
        if (auto problem = detail::host_pattern_problem(*pattern)) {
          w.error(hosts->items[i], ip,
                  "bad host pattern " + quote(hosts->items[i].text) + ": " + *problem);
          continue;
        }
        patterns.push_back(std::move(*pattern));
      }
      out.confirm_url_hosts = std::move(patterns);
    }
  }
  read_file_path(w, node, "ca_file", path, out.ca_file, "CA certificate", false);
  w.read_duration(node, "confirm_timeout", path, out.confirm_timeout, kPositive);
}

void read_server(SchemaWalker& w, const ConfigNode& node, const std::string& path, Server& out) {
  if (!w.expect_mapping(node, path, kServerKeys)) {
    return;
  }
  read_listen(w, node, path, out.listen);
  if (const ConfigNode* tls = SchemaWalker::get(node, "tls")) {
    read_server_tls(w, *tls, join(path, "tls"), out.tls);
  }
  w.read_integer(node, "max_body_bytes", path, out.max_body_bytes, 1, kMaxSize);
  w.read_integer(node, "max_header_bytes", path, out.max_header_bytes, 1, kMaxSize);
  w.read_integer(node, "max_connections", path, out.max_connections, 1, kMaxSize);
  w.read_duration(node, "header_timeout", path, out.header_timeout, kPositive);
  w.read_duration(node, "body_timeout", path, out.body_timeout, kPositive);
  w.read_duration(node, "idle_timeout", path, out.idle_timeout, kPositive);
  w.read_duration(node, "write_timeout", path, out.write_timeout, kPositive);
  w.read_duration(node, "shutdown_timeout", path, out.shutdown_timeout);
  if (const ConfigNode* auth = SchemaWalker::get(node, "auth")) {
    read_ingress_auth(w, *auth, join(path, "auth"), out.auth);
  }
  if (const ConfigNode* ons = SchemaWalker::get(node, "ons")) {
    read_ons(w, *ons, join(path, "ons"), out.ons);
  }
}

// ------------------------------------------------------------ storage, log --

void read_storage(SchemaWalker& w, const ConfigNode& node, const std::string& path, Storage& out) {
  if (!w.expect_mapping(node, path, kStorageKeys)) {
    return;
  }
  if (const ConfigNode* p = SchemaWalker::get(node, "path")) {
    const std::string pp = join(path, "path");
    if (auto file = w.text(*p, pp)) {
      if (file->empty()) {
        w.error(*p, pp, "must not be empty");
      } else {
        out.path = std::move(*file);
      }
    }
  }
  w.read_duration(node, "dedupe_window", path, out.dedupe_window);
  std::uint64_t reserve = 0;
  if (w.read_size(node, "reserve", path, reserve)) {
    out.reserve = reserve;
  }
  if (const ConfigNode* size = SchemaWalker::get(node, "max_size")) {
    const std::string sp = join(path, "max_size");
    if (auto bytes = w.size(*size, sp)) {
      if (*bytes != 0 && *bytes < kMinStorageMaxSize) {
        w.error(*size, sp,
                "bad size " + quote(size->text) +
                    ": a quota below 1MiB leaves no room for events and delivery bookkeeping; "
                    "give at least 1MiB, or 0 for no quota");
      } else {
        out.max_size = *bytes;
      }
    }
  }
}

void read_log(SchemaWalker& w, const ConfigNode& node, const std::string& path, Log& out) {
  if (!w.expect_mapping(node, path, kLogKeys)) {
    return;
  }
  if (const ConfigNode* level = SchemaWalker::get(node, "level")) {
    const std::string lp = join(path, "level");
    if (auto text = w.text(*level, lp)) {
      if (std::find(kLogLevels.begin(), kLogLevels.end(), *text) == kLogLevels.end()) {
        w.error(*level, lp,
                "bad log level " + quote(level->text) +
                    "; expected one of trace, debug, info, warn, error");
      } else {
        out.level = std::move(*text);
      }
    }
  }
  w.read_text(node, "file", path, out.file);
  if (const ConfigNode* format = SchemaWalker::get(node, "format")) {
    const std::string fp = join(path, "format");
    if (auto text = w.text(*format, fp)) {
      if (*text == "text") {
        out.format = Log::Format::text;
      } else if (*text == "json") {
        out.format = Log::Format::json;
      } else {
        w.error(*format, fp, "bad log format " + quote(format->text) + "; expected text or json");
      }
    }
  }
  w.read_size(node, "max_size", path, out.max_size);
  w.read_integer(node, "max_files", path, out.max_files, 1, 1000);
  w.read_duration(node, "flush_interval", path, out.flush_interval);
}

// ----------------------------------------------------------- destinations --

void read_url(SchemaWalker& w, const ConfigNode& map, const std::string& path, std::string& out) {
  const ConfigNode* node = w.require(map, "url", path);
  if (node == nullptr) {
    return;
  }
  const std::string p = join(path, "url");
  auto url = w.text(*node, p);
  if (!url) {
    return;
  }
  if (auto problem = detail::url_problem(*url)) {
    // Quoted as written, and even then without any user:pass@ in it.
    w.error(*node, p, "bad URL " + quote(detail::redact_userinfo(node->text)) + ": " + *problem);
    return;
  }
  out = std::move(*url);
}

void read_destination_auth(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                           DestinationAuth& out) {
  if (!w.expect_mapping(node, path, kDestinationAuthKeys)) {
    return;
  }
  bool type_known = true;
  if (const ConfigNode* type = SchemaWalker::get(node, "type")) {
    const std::string tp = join(path, "type");
    if (auto text = w.text(*type, tp)) {
      if (*text == "none") {
        out.type = DestinationAuth::Type::none;
      } else if (*text == "basic") {
        out.type = DestinationAuth::Type::basic;
      } else if (*text == "oauth2") {
        out.type = DestinationAuth::Type::oauth2;
      } else {
        w.error(*type, tp,
                "bad auth type " + quote(type->text) + "; expected none, basic or oauth2");
        type_known = false;
      }
    } else {
      type_known = false;
    }
  }
  if (!type_known) {
    return;
  }
  if (out.type == DestinationAuth::Type::oauth2) {
    detail::read_oauth2_auth(w, node, path, out);
    return;
  }
  detail::reject_oauth2_keys(w, node, path,
                             out.type == DestinationAuth::Type::basic ? "basic" : "none");
  if (out.type == DestinationAuth::Type::basic) {
    read_credentials(w, node, path, out.username, out.password);
    return;
  }
  for (const std::string_view key : {std::string_view("username"), std::string_view("password")}) {
    if (node.find(key) != nullptr) {
      w.error(node.key_mark(key), join(path, key),
              std::string(key) + " is only used with type: basic (this auth is type: none)");
    }
  }
}

// A list of HTTP statuses: codes (429) or classes ("5xx"), expanded to codes.
void read_status_list(SchemaWalker& w, const ConfigNode& map, std::string_view key,
                      const std::string& path, std::vector<int>& out) {
  const ConfigNode* list = SchemaWalker::get(map, key);
  if (list == nullptr) return;
  const std::string lp = join(path, key);
  if (!w.expect_sequence(*list, lp, "HTTP status codes")) return;
  for (std::size_t i = 0; i < list->items.size(); ++i) {
    const ConfigNode& item = list->items[i];
    const std::string ip = index(lp, i);
    auto text = w.raw_text(item, ip);
    if (!text) continue;
    const std::string& t = *text;
    if (t.size() == 3 && t[0] >= '1' && t[0] <= '5' && (t.substr(1) == "xx" || t.substr(1) == "XX")) {
      const int base = (t[0] - '0') * 100;
      for (int s = base; s < base + 100; ++s) out.push_back(s);
      continue;
    }
    int code = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), code);
    if (ec != std::errc{} || ptr != t.data() + t.size() || code < 100 || code > 599) {
      w.error(item, ip, "bad HTTP status " + quote(item.text) + "; expected 100-599 or a class like \"5xx\"");
      continue;
    }
    if (code >= 200 && code <= 299) {
      w.error(item, ip, "2xx statuses always mean delivered");
      continue;
    }
    out.push_back(code);
  }
}

void read_retry(SchemaWalker& w, const ConfigNode& node, const std::string& path, Retry& out) {
  if (!w.expect_mapping(node, path, kRetryKeys)) {
    return;
  }
  const std::size_t errors_before = w.error_count();
  w.read_duration(node, "initial_backoff", path, out.initial_backoff, kPositive);
  w.read_duration(node, "max_backoff", path, out.max_backoff, kPositive);
  w.read_duration(node, "max_age", path, out.max_age, kPositive);
  w.read_integer(node, "max_attempts", path, out.max_attempts, 0, 1000000);  // 0: no limit
  read_status_list(w, node, "retry_on", path, out.retry_on);
  read_status_list(w, node, "dead_letter_on", path, out.dead_letter_on);
  for (int s : out.retry_on) {
    if (std::find(out.dead_letter_on.begin(), out.dead_letter_on.end(), s) !=
        out.dead_letter_on.end()) {
      w.error(node.key_mark("dead_letter_on"), join(path, "dead_letter_on"),
              "HTTP " + std::to_string(s) + " is in both retry_on and dead_letter_on");
      break;
    }
  }
  if (w.error_count() == errors_before && out.initial_backoff > out.max_backoff) {
    const char* key = node.find("initial_backoff") != nullptr ? "initial_backoff" : "max_backoff";
    w.error(node.key_mark(key), join(path, key),
            "initial_backoff (" + format_duration(out.initial_backoff) +
                ") must not be greater than max_backoff (" + format_duration(out.max_backoff) +
                ")");
  }
}

std::optional<NameRef> read_destination(SchemaWalker& w, const ConfigNode& node,
                                        const std::string& path, Destination& out) {
  if (!w.expect_mapping(node, path, kDestinationKeys)) {
    return std::nullopt;
  }
  auto name = read_name(w, node, path, out.name);
  read_url(w, node, path, out.url);
  if (const ConfigNode* auth = SchemaWalker::get(node, "auth")) {
    read_destination_auth(w, *auth, join(path, "auth"), out.auth);
  }
  w.read_duration(node, "timeout", path, out.timeout, kPositive);
  if (const ConfigNode* retry = SchemaWalker::get(node, "retry")) {
    read_retry(w, *retry, join(path, "retry"), out.retry);
  }
  if (const ConfigNode* tls = SchemaWalker::get(node, "tls")) {
    detail::read_destination_tls(w, *tls, join(path, "tls"), out.tls);
  }
  if (const ConfigNode* headers = SchemaWalker::get(node, "headers")) {
    detail::read_destination_headers(w, *headers, join(path, "headers"), out.headers);
  }
  if (const ConfigNode* payload = SchemaWalker::get(node, "payload")) {
    detail::read_destination_payload(w, *payload, join(path, "payload"), out.payload);
  }
  w.read_integer(node, "concurrency", path, out.concurrency, 1, kMaxConcurrency);
  if (const ConfigNode* rate = SchemaWalker::get(node, "rate_limit")) {
    const std::string rp = join(path, "rate_limit");
    if (auto text = w.raw_text(*rate, rp)) {
      double value = 0;
      auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
      if (ec != std::errc{} || ptr != text->data() + text->size() || !(value > 0) ||
          value > 1e6) {
        w.error(*rate, rp,
                "bad rate_limit " + quote(rate->text) +
                    "; expected deliveries per second, a number above 0 (omit it for no limit)");
      } else {
        out.rate_limit = value;
      }
    }
  }
  return name;
}

// ----------------------------------------------------------------- routes --

// The condition as a JSON document for filter::Condition: scalars become
// strings (OCI compares scalars as text), sequences arrays, mappings objects.
void to_json(SchemaWalker& w, const ConfigNode& node, const std::string& path,
             rapidjson::Value& out, rapidjson::Document::AllocatorType& alloc) {
  switch (node.kind) {
    case ConfigNode::Kind::null:
      out.SetNull();
      return;
    case ConfigNode::Kind::scalar:
      out.SetString(node.text.data(), static_cast<rapidjson::SizeType>(node.text.size()), alloc);
      return;
    case ConfigNode::Kind::sequence:
      out.SetArray();
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        rapidjson::Value item;
        to_json(w, node.items[i], index(path, i), item, alloc);
        out.PushBack(item, alloc);
      }
      return;
    case ConfigNode::Kind::mapping:
      out.SetObject();
      for (std::size_t i = 0; i < node.items.size(); ++i) {
        const std::string& key = node.keys[i];
        if (std::find(node.keys.begin(), node.keys.begin() + static_cast<std::ptrdiff_t>(i), key) !=
            node.keys.begin() + static_cast<std::ptrdiff_t>(i)) {
          w.error(node.key_marks[i], join(path, key), "duplicate key " + quote(key));
          continue;
        }
        rapidjson::Value name(key.data(), static_cast<rapidjson::SizeType>(key.size()), alloc);
        rapidjson::Value value;
        to_json(w, node.items[i], join(path, key), value, alloc);
        out.AddMember(name, value, alloc);
      }
      return;
  }
}

// The node a condition error path ("data.additionalDetails.bucketName[1]")
// points at, as far as it can be followed.
const ConfigNode& locate(const ConfigNode& root, std::string_view path) {
  const ConfigNode* current = &root;
  while (!path.empty()) {
    if (path.front() == '.') {
      path.remove_prefix(1);
      continue;
    }
    if (path.front() == '[') {
      const auto close = path.find(']');
      if (close == std::string_view::npos || !current->is_sequence()) {
        break;
      }
      std::size_t i = 0;
      const auto [ptr, ec] = std::from_chars(path.data() + 1, path.data() + close, i);
      if (ec != std::errc{} || ptr != path.data() + close || i >= current->items.size()) {
        break;
      }
      current = &current->items[i];
      path.remove_prefix(close + 1);
      continue;
    }
    const auto end = std::min(path.find_first_of(".["), path.size());
    const ConfigNode* next = current->find(path.substr(0, end));
    if (next == nullptr) {
      break;
    }
    current = next;
    path.remove_prefix(end);
  }
  return *current;
}

void read_match(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                filter::Condition& out) {
  if (!node.is_mapping()) {
    w.error(node, path,
            std::string("expected a mapping (an OCI Events rule condition), got ") +
                std::string(node.describe()));
    return;
  }
  const std::size_t errors_before = w.error_count();
  rapidjson::Document doc;
  to_json(w, node, path, doc, doc.GetAllocator());
  if (w.error_count() != errors_before) {
    return;
  }
  auto compiled = filter::Condition::compile(doc);
  if (compiled) {
    out = std::move(compiled).value();
    return;
  }
  // "data.x[1]: message" -> path "routes[0].match.data.x[1]", message.
  const std::string& error = compiled.error();
  std::string inner;
  std::string message = error;
  const auto sep = error.find(": ");
  if (sep != std::string::npos && sep > 0 && error.find(' ') > sep) {
    inner = error.substr(0, sep);
    message = error.substr(sep + 2);
  }
  std::string full = path;
  if (!inner.empty()) {
    full += inner.front() == '[' ? inner : "." + inner;
  }
  w.error(locate(node, inner), std::move(full), std::move(message));
}

void read_shorthand(SchemaWalker& w, const ConfigNode& route, std::string_view key,
                    const std::string& path, std::vector<std::string>& out) {
  const ConfigNode* node = SchemaWalker::get(route, key);
  if (node == nullptr) {
    return;
  }
  const std::string p = join(path, key);
  auto list = w.text_list(*node, p, true);
  if (!list) {
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    if ((*list)[i].empty()) {
      w.error(node->is_sequence() ? node->items[i] : *node, node->is_sequence() ? index(p, i) : p,
              "must not be empty");
      return;
    }
  }
  out = std::move(*list);
}

std::optional<NameRef> read_route(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                                  Route& out, std::vector<NameRef>& destination_refs) {
  if (!w.expect_mapping(node, path, kRouteKeys)) {
    return std::nullopt;
  }
  auto name = read_name(w, node, path, out.name);
  if (const ConfigNode* match = SchemaWalker::get(node, "match")) {
    read_match(w, *match, join(path, "match"), out.match);
  }
  read_shorthand(w, node, "compartment", path, out.compartments);
  read_shorthand(w, node, "bucket", path, out.buckets);
  read_shorthand(w, node, "event_types", path, out.event_types);
  if (const ConfigNode* list = w.require(node, "destinations", path)) {
    const std::string dp = join(path, "destinations");
    if (w.expect_sequence(*list, dp, "destination names")) {
      if (list->items.empty()) {
        w.error(*list, dp, "a route needs at least one destination");
      }
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        const std::string ip = index(dp, i);
        if (auto dest = w.text(list->items[i], ip)) {
          out.destinations.push_back(*dest);
          destination_refs.push_back(NameRef{std::move(*dest), &list->items[i], ip});
        }
      }
    }
  }
  return name;
}

// ------------------------------------------------------- cross references --

// Reports names used twice; returns name -> first ref.
std::unordered_map<std::string, const NameRef*> check_unique(SchemaWalker& w,
                                                             const std::vector<NameRef>& names,
                                                             std::string_view what) {
  std::unordered_map<std::string, const NameRef*> seen;
  for (const NameRef& ref : names) {
    auto [it, inserted] = seen.emplace(ref.name, &ref);
    if (!inserted) {
      w.error(*ref.node, ref.path,
              "duplicate " + std::string(what) + " name " + quote(ref.node->text) +
                  " (already used by " + it->second->path + ")");
    }
  }
  return seen;
}

void check_route_destinations(SchemaWalker& w, const std::vector<NameRef>& destinations,
                              const std::vector<NameRef>& refs) {
  std::unordered_map<std::string, const NameRef*> known;
  std::vector<std::string_view> written;  // as written, for the message
  for (const NameRef& d : destinations) {
    known.emplace(d.name, &d);
    if (std::find(written.begin(), written.end(), d.node->text) == written.end()) {
      written.push_back(d.node->text);
    }
  }
  for (const NameRef& ref : refs) {
    if (known.count(ref.name) != 0) {
      continue;
    }
    std::string message = "unknown destination " + quote(ref.node->text);
    if (written.empty()) {
      message += "; no destinations are configured";
    } else {
      const std::string_view suggestion = detail::closest_match(ref.node->text, written);
      if (!suggestion.empty()) {
        message += " (did you mean '" + std::string(suggestion) + "'?)";
      }
      message += "; configured destinations: ";
      for (std::size_t i = 0; i < written.size(); ++i) {
        message += (i == 0 ? "" : ", ") + std::string(written[i]);
      }
    }
    w.error(*ref.node, ref.path, std::move(message));
  }
}

// ------------------------------------------------------------------- root --

Config build_config(SchemaWalker& w, const ConfigNode& root, const std::string& name) {
  Config config;
  config.source_file = name;
  if (root.is_null()) {
    return config;  // an empty file: every default
  }
  if (!w.expect_mapping(root, "", kTopKeys)) {
    return config;
  }
  if (const ConfigNode* server = SchemaWalker::get(root, "server")) {
    read_server(w, *server, "server", config.server);
  }
  if (const ConfigNode* storage = SchemaWalker::get(root, "storage")) {
    read_storage(w, *storage, "storage", config.storage);
  }
  if (const ConfigNode* log = SchemaWalker::get(root, "log")) {
    read_log(w, *log, "log", config.log);
  }
  if (const ConfigNode* admin = SchemaWalker::get(root, "admin")) {
    config.admin.emplace();
    detail::read_admin(w, *admin, "admin", *config.admin);
  }
  std::vector<NameRef> destination_names;
  if (const ConfigNode* list = SchemaWalker::get(root, "destinations")) {
    if (w.expect_sequence(*list, "destinations", "destination mappings")) {
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        Destination destination;
        if (auto ref = read_destination(w, list->items[i], index("destinations", i), destination)) {
          destination_names.push_back(std::move(*ref));
        }
        config.destinations.push_back(std::move(destination));
      }
    }
  }
  std::vector<NameRef> route_names;
  std::vector<NameRef> destination_refs;
  if (const ConfigNode* list = SchemaWalker::get(root, "routes")) {
    if (w.expect_sequence(*list, "routes", "route mappings")) {
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        Route route;
        if (auto ref = read_route(w, list->items[i], index("routes", i), route, destination_refs)) {
          route_names.push_back(std::move(*ref));
        }
        config.routes.push_back(std::move(route));
      }
    }
  }
  check_unique(w, destination_names, "destination");
  check_unique(w, route_names, "route");
  check_route_destinations(w, destination_names, destination_refs);
  return config;
}

Result<std::string, std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(std::system_category().message(errno));
  }
  std::string content;
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      ::close(fd);
      return fail(std::system_category().message(saved));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer.data(), static_cast<std::size_t>(n));
    if (content.size() > 16 * 1024 * 1024) {
      ::close(fd);
      return fail("the file is larger than 16 MiB; this is not a configuration file");
    }
  }
  ::close(fd);
  return content;
}

}  // namespace

Result<Config, ConfigErrors> parse_config(std::string_view text, const std::string& name,
                                          const SecretSources& secrets) {
  try {
    auto tree =
        ends_with_json(name) ? detail::read_json(text, name) : detail::read_yaml(text, name);
    if (!tree) {
      return fail(std::move(tree).error());
    }
    SchemaWalker walker(name, secrets);
    Config config = build_config(walker, tree.value(), name);
    if (walker.has_errors()) {
      return fail(walker.take_errors());
    }
    return config;
  } catch (const std::exception& e) {
    return fail(ConfigErrors{ConfigError{
        name, "", 0, 0, std::string("internal error reading the configuration: ") + e.what()}});
  } catch (...) {
    return fail(
        ConfigErrors{ConfigError{name, "", 0, 0, "internal error reading the configuration"}});
  }
}

Result<Config, ConfigErrors> load_config(const std::string& path, const SecretSources& secrets) {
  try {
    auto text = read_whole_file(path);
    if (!text) {
      return fail(ConfigErrors{
          ConfigError{path, "", 0, 0, "cannot read the configuration file: " + text.error()}});
    }
    return parse_config(text.value(), path, secrets);
  } catch (const std::exception& e) {
    return fail(ConfigErrors{ConfigError{path, "", 0, 0, std::string("cannot load: ") + e.what()}});
  }
}

}  // namespace ocirelay::config
