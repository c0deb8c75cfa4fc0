// ocirelayctl's command line: global options anywhere, then the command.
//
//   ocirelayctl [--socket PATH | --config FILE] [--json] [--timeout 30s] COMMAND
//     queue stats
//     dlq list [--destination D] [--limit N]
//     dlq show ID
//     dlq replay ID | --all [--destination D]
//     dlq purge ID | --all [--destination D] [--older-than 7d]
//
// Each command maps to one request of the admin API (admin_handler.hpp).
// Pure functions; no thread affinity.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"

namespace ocirelay::admin {

inline constexpr const char* kDefaultAdminSocket = "/run/ocirelay/admin.sock";

enum class CtlCommand { none, queue_stats, dlq_list, dlq_show, dlq_replay, dlq_purge };

struct CtlCommandLine {
  std::string socket;       // --socket; empty: from --config, or the default
  std::string config_file;  // --config
  bool json = false;
  Duration timeout = std::chrono::seconds(60);
  bool help = false;
  bool version = false;

  CtlCommand command = CtlCommand::none;
  std::optional<std::int64_t> id;  // show, replay, purge
  bool all = false;                // replay, purge
  std::optional<std::string> destination;
  std::optional<std::size_t> limit;
  std::optional<Duration> older_than;
};

// Fails with a one-line reason (a usage error: exit 2).
Result<CtlCommandLine> parse_ctl_command_line(const std::vector<std::string>& args);

std::string ctl_usage(const std::string& program);

// The admin API request for a parsed command.
struct CtlRequest {
  std::string method;
  std::string target;
};
CtlRequest ctl_request(const CtlCommandLine& command);

}  // namespace ocirelay::admin
