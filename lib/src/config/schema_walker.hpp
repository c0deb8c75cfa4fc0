// The building blocks of the configuration schema (sections.hpp, with
// field_table.hpp): walks a ConfigNode tree, reads typed values out of it and
// collects every problem as a ConfigError with the file, the key path
// ("routes[1].destinations[0]") and the position. Reading never stops at the
// first error.
//
// Values are quoted in messages only as written in the file, never after
// secret references have been resolved.
//
// One walker per parse; not shared between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config_node.hpp"
#include "ocirelay/common/duration.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

class SchemaWalker {
 public:
  SchemaWalker(std::string file, const SecretSources& secrets);

  // Key paths: join("server", "tls") == "server.tls", index("routes", 1) ==
  // "routes[1]"; join("", "server") == "server".
  static std::string join(std::string_view path, std::string_view key);
  static std::string index(std::string_view path, std::size_t i);

  void error(Mark at, std::string path, std::string message);
  void error(const ConfigNode& at, std::string path, std::string message) {
    error(at.mark, std::move(path), std::move(message));
  }
  bool has_errors() const noexcept { return !errors_.empty(); }
  std::size_t error_count() const noexcept { return errors_.size(); }
  // The errors in file order (whole-file errors first).
  ConfigErrors take_errors();

  // --- structure ---------------------------------------------------------
  // Checks that `node` is a mapping whose keys are all in `allowed` (each
  // unknown key reported with the allowed ones and the closest match) and
  // unique. Returns false when it is not a mapping at all.
  bool expect_mapping(const ConfigNode& node, const std::string& path,
                      std::span<const std::string_view> allowed);
  // Checks that `node` is a sequence; `of_what` completes "expected a
  // sequence of ...".
  bool expect_sequence(const ConfigNode& node, const std::string& path, std::string_view of_what);
  // The value under `key`, or nullptr when absent or null (null means "use
  // the default").
  static const ConfigNode* get(const ConfigNode& map, std::string_view key) noexcept;
  // Like get(), but reports "required key is missing" when there is no value.
  const ConfigNode* require(const ConfigNode& map, std::string_view key, const std::string& path);

  // --- scalars (node is the value, path its key path) ---------------------
  // A scalar's text exactly as written, or nullopt (and an error) for
  // mappings, sequences and null.
  std::optional<std::string> raw_text(const ConfigNode& node, const std::string& path);
  // A string value with its secret references resolved.
  std::optional<std::string> text(const ConfigNode& node, const std::string& path);
  std::optional<bool> boolean(const ConfigNode& node, const std::string& path);
  // A whole number in [min, max], written without quotes.
  std::optional<std::uint64_t> integer(const ConfigNode& node, const std::string& path,
                                       std::uint64_t min, std::uint64_t max);
  // A duration ("30s") of at least `min`.
  std::optional<Duration> duration(const ConfigNode& node, const std::string& path,
                                   Duration min = Duration::zero());
  // A size in bytes ("1048576", "64MiB"; common/size.hpp).
  std::optional<std::uint64_t> size(const ConfigNode& node, const std::string& path);
  // A sequence of strings (or, when `scalar_ok`, also a single string), each
  // with its secret references resolved. An empty sequence is an error.
  std::optional<std::vector<std::string>> text_list(const ConfigNode& node, const std::string& path,
                                                    bool scalar_ok);

  // Checks that the file named by a (resolved) path exists, is a regular,
  // non-empty file and can be opened for reading. `node` holds the path as
  // written, which is what the message quotes; `what` names the file ("TLS
  // certificate").
  void check_readable_file(const ConfigNode& node, const std::string& path,
                           const std::string& resolved, std::string_view what);

  // --- OCI Vault -------------------------------------------------------
  // The `oci` settings `${vault:}` references are fetched with from now on
  // (before: refused). Each OCID is fetched once per walker.
  void use_vault_identity(const Oci& oci) { vault_oci_ = oci; }

 private:
  Result<std::string, std::string> vault_secret(const std::string& ocid);

  void wrong_type(const ConfigNode& node, const std::string& path, std::string_view expected);

  std::string file_;
  const SecretSources& secrets_;
  ConfigErrors errors_;
  std::optional<Oci> vault_oci_;
  std::map<std::string, Result<std::string, std::string>> vault_cache_;  // secrets inside
};

// "'text'" with control characters escaped, cut at a sensible length.
std::string quote(std::string_view raw);

// The allowed word closest to `word` when it is plausibly a typo, else empty.
std::string_view closest_match(std::string_view word, std::span<const std::string_view> allowed);

}  // namespace ocirelay::config::detail
