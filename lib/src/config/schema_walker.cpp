#include "config/schema_walker.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

#include <fcntl.h>
#include <unistd.h>

#include "config/secret_ref.hpp"
#include "ocirelay/common/size.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr std::size_t kMaxQuoted = 120;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Lower case without '_' and '-': "maxBodyBytes" and "max-body-bytes" both
// become "maxbodybytes".
std::string fold(std::string_view word) {
  std::string out;
  for (const char c : word) {
    if (c != '_' && c != '-') {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string join_words(std::span<const std::string_view> words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) {
      out += ", ";
    }
    out += w;
  }
  return out;
}

bool is_plain_true(std::string_view s) { return s == "true" || s == "True" || s == "TRUE"; }
bool is_plain_false(std::string_view s) { return s == "false" || s == "False" || s == "FALSE"; }

}  // namespace

std::string quote(std::string_view raw) {
  std::string out = "'";
  std::size_t shown = 0;
  for (const char c : raw) {
    if (shown == kMaxQuoted) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
    ++shown;
  }
  out += "'";
  return out;
}

std::string_view closest_match(std::string_view word, std::span<const std::string_view> allowed) {
  const std::string folded = fold(word);
  std::string_view best;
  std::size_t best_distance = 0;
  for (const auto& candidate : allowed) {
    if (fold(candidate) == folded) {
      return candidate;
    }
    // A shortened key ("dedupe" for "dedupe_window") counts as close.
    const bool prefix = std::min(word.size(), candidate.size()) >= 4 &&
                        (candidate.starts_with(word) || word.starts_with(candidate));
    const std::size_t d = prefix ? 1 : edit_distance(word, candidate);
    const std::size_t limit =
        std::max<std::size_t>(1, std::min<std::size_t>(3, candidate.size() / 3));
    if (d <= limit && (best.empty() || d < best_distance)) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

SchemaWalker::SchemaWalker(std::string file, const SecretSources& secrets)
    : file_(std::move(file)), secrets_(secrets) {}

std::string SchemaWalker::join(std::string_view path, std::string_view key) {
  if (path.empty()) {
    return std::string(key);
  }
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

std::string SchemaWalker::index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

void SchemaWalker::error(Mark at, std::string path, std::string message) {
  errors_.push_back(ConfigError{file_, std::move(path), at.line, at.column, std::move(message)});
}

ConfigErrors SchemaWalker::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  return std::move(errors_);
}

void SchemaWalker::wrong_type(const ConfigNode& node, const std::string& path,
                              std::string_view expected) {
  std::string message = "expected ";
  message += expected;
  message += ", got ";
  if (node.is_scalar() && node.style == ConfigNode::Style::plain) {
    message += quote(node.text);  // a YAML plain scalar has no type of its own
  } else {
    message += node.describe();
    if (node.is_scalar()) {
      message += " " + quote(node.text);
    }
  }
  error(node, path, std::move(message));
}

bool SchemaWalker::expect_mapping(const ConfigNode& node, const std::string& path,
                                  std::span<const std::string_view> allowed) {
  if (!node.is_mapping()) {
    wrong_type(node, path, "a mapping with keys " + join_words(allowed));
    return false;
  }
  for (std::size_t i = 0; i < node.keys.size(); ++i) {
    const std::string& key = node.keys[i];
    const std::string key_path = join(path, key);
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string message = "unknown key " + quote(key);
      const std::string_view suggestion = closest_match(key, allowed);
      if (!suggestion.empty()) {
        message += " (did you mean '" + std::string(suggestion) + "'?)";
      }
      message += "; allowed keys: " + join_words(allowed);
      error(node.key_marks[i], key_path, std::move(message));
      continue;
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (node.keys[j] == key) {
        std::string message = "duplicate key " + quote(key);
        if (node.key_marks[j].line > 0) {
          message += " (first given on line " + std::to_string(node.key_marks[j].line) + ")";
        }
        error(node.key_marks[i], key_path, std::move(message));
        break;
      }
    }
  }
  return true;
}

bool SchemaWalker::expect_sequence(const ConfigNode& node, const std::string& path,
                                   std::string_view of_what) {
  if (!node.is_sequence()) {
    wrong_type(node, path, "a sequence of " + std::string(of_what));
    return false;
  }
  return true;
}

const ConfigNode* SchemaWalker::get(const ConfigNode& map, std::string_view key) noexcept {
  const ConfigNode* value = map.find(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const ConfigNode* SchemaWalker::require(const ConfigNode& map, std::string_view key,
                                        const std::string& path) {
  const ConfigNode* value = get(map, key);
  if (value == nullptr) {
    error(map.key_mark(key), join(path, key),
          map.find(key) == nullptr ? "required key '" + std::string(key) + "' is missing"
                                   : "required key '" + std::string(key) + "' has no value");
  }
  return value;
}

std::optional<std::string> SchemaWalker::raw_text(const ConfigNode& node, const std::string& path) {
  if (!node.is_scalar()) {
    wrong_type(node, path, "a string");
    return std::nullopt;
  }
  return node.text;
}

std::optional<std::string> SchemaWalker::text(const ConfigNode& node, const std::string& path) {
  auto raw = raw_text(node, path);
  if (!raw) {
    return std::nullopt;
  }
  if (!has_secret_refs(*raw)) {
    return raw;
  }
  auto resolved = resolve_secret_refs(
      *raw, secrets_, [this](const std::string& ocid) { return vault_secret(ocid); });
  if (!resolved) {
    for (const auto& message : resolved.error()) {
      error(node, path, message);
    }
    return std::nullopt;
  }
  return std::move(resolved).value();
}

Result<std::string, std::string> SchemaWalker::vault_secret(const std::string& ocid) {
  if (const auto it = vault_cache_.find(ocid); it != vault_cache_.end()) return it->second;
  if (!vault_oci_) {
    return fail(std::string(
        "a ${vault:} reference cannot be used in the oci section's principal, region, endpoints "
        "or ca_file (they say how to reach the Vault)"));
  }
  if (vault_oci_->principal == OciPrincipal::none) {
    return fail(std::string("${vault:} needs an OCI principal: set oci.principal"));
  }
  if (vault_oci_->principal == OciPrincipal::api_key && !vault_oci_->api_key) {
    return fail(std::string(
        "with oci.principal api_key, the oci.api_key section is needed to reach the Vault, so "
        "it cannot come from the Vault itself"));
  }
  if (!secrets_.vault) return fail(std::string("no OCI Vault access here"));
  auto value = secrets_.vault(*vault_oci_, ocid);
  vault_cache_.emplace(ocid, value);
  return value;
}

std::optional<bool> SchemaWalker::boolean(const ConfigNode& node, const std::string& path) {
  if (node.is_scalar() &&
      (node.style == ConfigNode::Style::plain || node.style == ConfigNode::Style::json_bool)) {
    if (is_plain_true(node.text)) {
      return true;
    }
    if (is_plain_false(node.text)) {
      return false;
    }
  }
  wrong_type(node, path, "true or false");
  return std::nullopt;
}

std::optional<std::uint64_t> SchemaWalker::integer(const ConfigNode& node, const std::string& path,
                                                   std::uint64_t min, std::uint64_t max) {
  const std::string range =
      min == 1 && max == UINT64_MAX
          ? std::string("a positive whole number")
          : "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  const bool unquoted = node.is_scalar() && (node.style == ConfigNode::Style::plain ||
                                             node.style == ConfigNode::Style::json_number);
  const std::string& s = node.text;
  const bool digits =
      !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!unquoted || !digits) {
    wrong_type(node, path, range);
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || ptr != s.data() + s.size() || value < min || value > max) {
    error(node, path, "must be " + range + ", got " + quote(s));
    return std::nullopt;
  }
  return value;
}

std::optional<Duration> SchemaWalker::duration(const ConfigNode& node, const std::string& path,
                                               Duration min) {
  if (!node.is_scalar()) {
    wrong_type(node, path, "a duration such as 30s");
    return std::nullopt;
  }
  const auto d = parse_duration(node.text);
  if (!d) {
    error(node, path,
          "bad duration " + quote(node.text) +
              ": expected a whole number and a unit ms, s, m, h or d (250ms, 30s, 5m, 72h)");
    return std::nullopt;
  }
  if (*d < min) {
    error(node, path,
          min == Duration(1)
              ? "bad duration " + quote(node.text) + ": must be greater than 0"
              : "bad duration " + quote(node.text) + ": must be at least " + format_duration(min));
    return std::nullopt;
  }
  return d;
}

std::optional<std::uint64_t> SchemaWalker::size(const ConfigNode& node, const std::string& path) {
  if (!node.is_scalar()) {
    wrong_type(node, path, "a size such as 64MiB");
    return std::nullopt;
  }
  const auto bytes = parse_size(node.text);
  if (!bytes) {
    error(node, path,
          "bad size " + quote(node.text) +
              ": expected a whole number of bytes, optionally with a unit KiB, MiB, GiB or TiB "
              "(64MiB, 2GiB)");
  }
  return bytes;
}

std::optional<std::vector<std::string>> SchemaWalker::text_list(const ConfigNode& node,
                                                                const std::string& path,
                                                                bool scalar_ok) {
  std::vector<std::string> out;
  if (node.is_scalar() && scalar_ok) {
    auto value = text(node, path);
    if (!value) {
      return std::nullopt;
    }
    out.push_back(std::move(*value));
    return out;
  }
  if (!node.is_sequence()) {
    wrong_type(node, path,
               scalar_ok ? "a string or a sequence of strings" : "a sequence of strings");
    return std::nullopt;
  }
  if (node.items.empty()) {
    error(node, path, "must not be an empty sequence");
    return std::nullopt;
  }
  bool ok = true;
  for (std::size_t i = 0; i < node.items.size(); ++i) {
    auto value = text(node.items[i], index(path, i));
    if (value) {
      out.push_back(std::move(*value));
    } else {
      ok = false;
    }
  }
  if (!ok) {
    return std::nullopt;
  }
  return out;
}

void SchemaWalker::check_readable_file(const ConfigNode& node, const std::string& path,
                                       const std::string& resolved, std::string_view what) {
  const std::string head = "cannot read " + std::string(what) + " file " + quote(node.text) + ": ";
  if (resolved.empty()) {
    error(node, path, std::string(what) + " file name is empty");
    return;
  }
  std::error_code ec;
  const auto status = std::filesystem::status(resolved, ec);
  if (ec) {
    error(node, path, head + ec.message());
    return;
  }
  if (!std::filesystem::is_regular_file(status)) {
    error(node, path, head + "not a regular file");
    return;
  }
  const int fd = ::open(resolved.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error(node, path, head + std::system_category().message(errno));
    return;
  }
  ::close(fd);
  if (std::filesystem::file_size(resolved, ec) == 0 && !ec) {
    error(node, path, head + "the file is empty");
  }
}

}  // namespace ocirelay::config::detail
