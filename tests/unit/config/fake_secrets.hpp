// Secret sources for the config tests: an in-memory environment and file
// system, so no test depends on the real ones.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "ocirelay/config/loader.hpp"

namespace ocirelay::test {

inline config::SecretSources fake_secrets(std::map<std::string, std::string> env = {},
                                          std::map<std::string, std::string> files = {}) {
  config::SecretSources sources;
  sources.env = [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    const auto it = env.find(name);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  sources.file = [files = std::move(files)](const std::string& path) -> std::optional<std::string> {
    const auto it = files.find(path);
    return it == files.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  return sources;
}

}  // namespace ocirelay::test
