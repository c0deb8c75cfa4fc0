// Reads YAML text into a ConfigNode tree, with 1-based line:column marks from
// yaml-cpp. Syntax errors come back as ConfigErrors; never throws.
#pragma once

#include <string>
#include <string_view>

#include "config/config_node.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

Result<ConfigNode, ConfigErrors> read_yaml(std::string_view text, const std::string& file);

}  // namespace ocirelay::config::detail
