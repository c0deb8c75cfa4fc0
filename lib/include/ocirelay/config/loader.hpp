// Loading and validating the configuration file (YAML, or JSON when the file
// name ends in .json; one schema). Pure functions; no thread affinity.
//
// Every problem found is reported, not only the first, each naming the file,
// the key path ("routes[1].destinations[0]") and, for YAML, line and column.
// Messages never contain a resolved secret: values are quoted only as written
// in the file, before `${env:...}`/`${file:...}`/`${vault:...}` references
// are resolved.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::config {

struct ConfigError {
  std::string file;
  std::string path;  // key path; empty for whole-file problems
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;

  // "file:line:col: path: message" (parts omitted when unknown).
  std::string to_string() const;
};

using ConfigErrors = std::vector<ConfigError>;

// Where secret references are looked up. Defaults read the process
// environment and the file system; tests substitute their own.
struct SecretSources {
  std::function<std::optional<std::string>(const std::string& name)> env;
  std::function<std::optional<std::string>(const std::string& path)> file;
  // `${vault:<secret OCID>}`: the secret's current content, fetched with the
  // principal of the `oci` section given (read before any other section), or
  // why not ("HTTP 404 (NotAuthorizedOrNotFound)"; never the content). Empty:
  // vault references are refused. The daemon's (oci/vault_secret_reader.hpp)
  // blocks the loading thread for at most its timeout.
  std::function<Result<std::string, std::string>(const Oci& oci, const std::string& ocid)> vault;
};
SecretSources default_secret_sources();

// Reads and validates `path`.
Result<Config, ConfigErrors> load_config(const std::string& path,
                                         const SecretSources& secrets = default_secret_sources());

// Parses text as if it were the file `name` (format chosen by its extension).
Result<Config, ConfigErrors> parse_config(std::string_view text, const std::string& name,
                                          const SecretSources& secrets = default_secret_sources());

// The configuration the daemon runs on when started without --config:
// config/dev.yaml's content, embedded in the binary.
std::string_view embedded_default_config();

}  // namespace ocirelay::config
