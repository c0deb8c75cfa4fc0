// The daemon's command line. Pure.
#pragma once

#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"

namespace ocirelay::app {

struct CommandLine {
  std::string config_path;  // empty: the embedded default configuration
  bool check_config = false;
  bool version = false;
  bool help = false;
};

Result<CommandLine> parse_command_line(const std::vector<std::string>& args);
std::string usage(const std::string& program);

}  // namespace ocirelay::app
