// Helpers shared by the configuration tests: every error of a failed parse as
// text (for INFO), and a parse that must succeed.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <utility>

#include "ocirelay/config/loader.hpp"
#include "unit/config/fake_secrets.hpp"

namespace ocirelay::test {

// One "file:line:col: path: message" line per error.
inline std::string dump(const config::ConfigErrors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

// Parses `text` (YAML, or JSON for a *.json name); fails the test, with the
// text and every error, unless it is valid.
inline config::Config parse_ok(const std::string& text, const std::string& name = "test.yaml",
                               const config::SecretSources& secrets = fake_secrets()) {
  auto result = config::parse_config(text, name, secrets);
  INFO(text);
  INFO((result.ok() ? std::string() : dump(result.error())));
  REQUIRE(result.ok());
  return std::move(result).value();
}

}  // namespace ocirelay::test
