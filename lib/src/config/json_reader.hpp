// Reads JSON text strictly (RFC 8259: no comments, no trailing commas, valid
// UTF-8, one value) into a ConfigNode tree with 1-based line:column marks.
// Syntax errors come back as ConfigErrors with the byte offset and position;
// never throws.
#pragma once

#include <string>
#include <string_view>

#include "config/config_node.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::config::detail {

Result<ConfigNode, ConfigErrors> read_json(std::string_view text, const std::string& file);

// True when a configuration file named `name` is JSON: it ends in ".json" (any
// case); anything else is read as YAML.
bool is_json_file_name(std::string_view name) noexcept;

}  // namespace ocirelay::config::detail
