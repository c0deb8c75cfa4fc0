// The daemon's command line. Pure.
#pragma once

#include <string>
#include <vector>

#include "ocirelay/common/result.hpp"

namespace ocirelay::app {

struct CommandLine {
  enum class Command {
    run,            // serve (the default)
    storage_check,  // `storage check`: check the storage file offline, exit
    storage_copy,   // `storage copy`: copy a SQLite file into PostgreSQL, exit
  };
  Command command = Command::run;
  std::string config_path;     // empty: the embedded default configuration
  std::string storage_path;    // `storage check --storage PATH`
  std::string copy_from;       // `storage copy --from PATH` (a SQLite file)
  std::string copy_to_config;  // `storage copy --to-config FILE`
  bool check_config = false;
  bool connect = false;  // --check-config --connect: also reach the database
  bool version = false;
  bool help = false;
};

Result<CommandLine> parse_command_line(const std::vector<std::string>& args);
std::string usage(const std::string& program);

}  // namespace ocirelay::app
