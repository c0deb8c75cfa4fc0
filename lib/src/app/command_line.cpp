#include "ocirelay/app/command_line.hpp"

namespace ocirelay::app {

namespace {

// `storage copy --from PATH --to-config FILE`, args[0..1] being "storage copy".
Result<CommandLine> parse_storage_copy(const std::vector<std::string>& args) {
  CommandLine cl;
  cl.command = CommandLine::Command::storage_copy;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--from" || a == "--to-config") {
      if (i + 1 >= args.size()) {
        return fail(a + (a == "--from" ? " needs a path" : " needs a file name"));
      }
      (a == "--from" ? cl.copy_from : cl.copy_to_config) = args[++i];
    } else if (a.rfind("--from=", 0) == 0) {
      cl.copy_from = a.substr(7);
    } else if (a.rfind("--to-config=", 0) == 0) {
      cl.copy_to_config = a.substr(12);
    } else if (a == "--help" || a == "-h") {
      cl.help = true;
    } else {
      return fail("storage copy: unknown argument \"" + a + "\"");
    }
  }
  if (cl.help) return cl;
  if (cl.copy_from.empty() || cl.copy_to_config.empty()) {
    return fail(std::string("storage copy needs --from PATH (a SQLite file) and --to-config FILE"));
  }
  return cl;
}

// `storage check [--config FILE | --storage PATH]` or `storage copy ...`,
// args[0] being "storage".
Result<CommandLine> parse_storage_command(const std::vector<std::string>& args) {
  CommandLine cl;
  if (args.size() >= 2 && args[1] == "copy") return parse_storage_copy(args);
  if (args.size() < 2 || args[1] != "check") {
    return fail(std::string("\"storage\" needs a subcommand: storage check, storage copy"));
  }
  cl.command = CommandLine::Command::storage_check;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" || a == "-c" || a == "--storage") {
      if (i + 1 >= args.size()) {
        return fail(a + (a == "--storage" ? " needs a path" : " needs a file name"));
      }
      (a == "--storage" ? cl.storage_path : cl.config_path) = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      cl.config_path = a.substr(9);
    } else if (a.rfind("--storage=", 0) == 0) {
      cl.storage_path = a.substr(10);
    } else if (a == "--help" || a == "-h") {
      cl.help = true;
    } else {
      return fail("storage check: unknown argument \"" + a + "\"");
    }
  }
  if (cl.help) return cl;
  if (cl.config_path.empty() == cl.storage_path.empty()) {
    return fail(std::string("storage check needs either --config FILE or --storage PATH"));
  }
  return cl;
}

}  // namespace

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "storage") return parse_storage_command(args);
  CommandLine cl;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--config" || a == "-c") {
      if (i + 1 >= args.size()) return fail(a + " needs a file name");
      cl.config_path = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      cl.config_path = a.substr(9);
    } else if (a == "--check-config") {
      cl.check_config = true;
    } else if (a == "--connect") {
      cl.connect = true;
    } else if (a == "--version" || a == "-V") {
      cl.version = true;
    } else if (a == "--help" || a == "-h") {
      cl.help = true;
    } else {
      return fail("unknown argument \"" + a + "\"");
    }
  }
  if (cl.connect && !cl.check_config) {
    return fail(std::string("--connect goes with --check-config"));
  }
  if (cl.config_path.empty() && cl.check_config) {
    // Checking the embedded default is allowed and useful in tests.
  }
  return cl;
}

std::string usage(const std::string& program) {
  return "Usage: " + program +
         " [--config FILE] [--check-config [--connect]] [--version] [--help]\n"
         "       " + program + " storage check [--config FILE | --storage PATH]\n"
         "       " + program + " storage copy --from PATH --to-config FILE\n"
         "\n"
         "Relays OCI Events (from OCI Notifications HTTPS subscriptions or\n"
         "Functions-style POSTs) to Oracle Integration REST triggers, storing each\n"
         "accepted event durably before answering and retrying until delivered.\n"
         "\n"
         "  -c, --config FILE   configuration file (YAML, or JSON when it ends in .json);\n"
         "                      without it the embedded development configuration is used\n"
         "      --check-config  validate the configuration and exit: 0 valid, 2 invalid\n"
         "      --connect       with --check-config and storage.backend postgresql: also\n"
         "                      connect, report the server and schema versions; 3 when\n"
         "                      the database cannot be reached or its schema is newer\n"
         "  -V, --version       print the version and exit\n"
         "  -h, --help          print this help and exit\n"
         "  storage check       check the storage file (storage.path of --config FILE,\n"
         "                      or --storage PATH), or the PostgreSQL database of\n"
         "                      --config FILE, without changing it, and exit:\n"
         "                      0 ok, 1 problems found, 3 cannot open; meant for a\n"
         "                      stopped relay\n"
         "  storage copy        copy the queued deliveries and dead letters of the SQLite\n"
         "                      file PATH (read-only) into the PostgreSQL database of\n"
         "                      --to-config FILE; idempotent: 0 copied, 2 usage or\n"
         "                      configuration error (not postgresql), 3 cannot open\n"
         "                      either side (nothing copied)\n"
         "\n"
         "Signals: SIGTERM/SIGINT stop gracefully; SIGUSR1 reopens the log file;\n"
         "SIGHUP reloads the configuration file (what can change while running).\n"
         "Exit codes: 0 success, 1 runtime failure, 2 configuration or usage error,\n"
         "3 storage cannot be opened (missing directory, not writable, not a database).\n";
}

}  // namespace ocirelay::app
