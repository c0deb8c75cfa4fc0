#include "admin/ctl_command_line.hpp"

#include <algorithm>
#include <set>
#include <string_view>

#include "admin/query_string.hpp"

namespace ocirelay::admin {

namespace {

constexpr std::size_t kMaxLimit = 100000;

// Options that take a value, as "--name VALUE" or "--name=VALUE".
constexpr std::string_view kValueOptions[] = {"--socket",      "--config", "--timeout",
                                              "--destination", "--limit",  "--older-than"};

bool takes_value(std::string_view name) {
  return std::find(std::begin(kValueOptions), std::end(kValueOptions), name) !=
         std::end(kValueOptions);
}

Result<std::int64_t> read_id(const std::string& text) {
  if (auto id = parse_id(text)) {
    return *id;
  }
  return fail("bad dead-letter ID '" + text + "': expected a positive whole number");
}

// The per-command options given that `command` does not take.
std::optional<std::string> misplaced(const std::set<std::string>& given,
                                     std::initializer_list<std::string_view> allowed,
                                     const std::string& command) {
  static constexpr std::string_view kCommandOptions[] = {"--destination", "--limit", "--all",
                                                         "--older-than"};
  for (std::string_view option : kCommandOptions) {
    if (given.count(std::string(option)) != 0 &&
        std::find(allowed.begin(), allowed.end(), option) == allowed.end()) {
      return std::string(option) + " is not an option of '" + command + "'";
    }
  }
  return std::nullopt;
}

}  // namespace

Result<CtlCommandLine> parse_ctl_command_line(const std::vector<std::string>& args) {
  CtlCommandLine cl;
  std::vector<std::string> words;
  std::set<std::string> given;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      words.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (const auto eq = arg.find('='); eq != std::string::npos && arg.rfind("--", 0) == 0) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    if (name == "-h") name = "--help";
    if (name == "-V") name = "--version";
    if (takes_value(name)) {
      if (!value) {
        if (i + 1 >= args.size()) {
          return fail(name + " needs a value");
        }
        value = args[++i];
      }
    } else if (value) {
      return fail(name + " takes no value");
    }
    if (!given.insert(name).second) {
      return fail(name + " given twice");
    }
    if (name == "--socket") {
      if (value->empty()) return fail("--socket needs a path");
      cl.socket = *value;
    } else if (name == "--config") {
      if (value->empty()) return fail("--config needs a file name");
      cl.config_file = *value;
    } else if (name == "--timeout") {
      const auto d = parse_duration(*value);
      if (!d || d->count() <= 0) {
        return fail("bad --timeout '" + *value + "': expected a duration such as 30s");
      }
      cl.timeout = *d;
    } else if (name == "--destination") {
      if (value->empty()) return fail("--destination needs a destination name");
      cl.destination = *value;
    } else if (name == "--limit") {
      const auto n = parse_id(*value);
      if (!n || static_cast<std::uint64_t>(*n) > kMaxLimit) {
        return fail("bad --limit '" + *value + "': expected a whole number from 1 to " +
                    std::to_string(kMaxLimit));
      }
      cl.limit = static_cast<std::size_t>(*n);
    } else if (name == "--older-than") {
      const auto d = parse_duration(*value);
      if (!d) {
        return fail("bad --older-than '" + *value + "': expected a duration such as 7d or 12h");
      }
      cl.older_than = *d;
    } else if (name == "--json") {
      cl.json = true;
    } else if (name == "--all") {
      cl.all = true;
    } else if (name == "--help") {
      cl.help = true;
    } else if (name == "--version") {
      cl.version = true;
    } else {
      return fail("unknown option '" + name + "'");
    }
  }
  if (!cl.socket.empty() && !cl.config_file.empty()) {
    return fail("give --socket or --config, not both");
  }
  if (cl.help || cl.version) {
    return cl;
  }
  if (words.empty()) {
    return fail("no command given");
  }
  const std::string& area = words[0];
  if (area == "queue") {
    if (words.size() < 2 || words[1] != "stats") {
      return fail("unknown command 'queue" + (words.size() > 1 ? " " + words[1] : "") +
                  "'; did you mean 'queue stats'?");
    }
    if (words.size() > 2) return fail("'queue stats' takes no arguments");
    if (auto m = misplaced(given, {}, "queue stats")) return fail(*m);
    cl.command = CtlCommand::queue_stats;
    return cl;
  }
  if (area != "dlq") {
    return fail("unknown command '" + area +
                "'; commands: queue stats, dlq list|show|replay|purge");
  }
  if (words.size() < 2) {
    return fail("'dlq' needs a subcommand: list, show, replay or purge");
  }
  const std::string& verb = words[1];
  const std::string command = "dlq " + verb;
  if (verb == "list") {
    if (words.size() > 2) return fail("'dlq list' takes no arguments");
    if (auto m = misplaced(given, {"--destination", "--limit"}, command)) return fail(*m);
    cl.command = CtlCommand::dlq_list;
    return cl;
  }
  if (verb == "show") {
    if (words.size() != 3) return fail("'dlq show' needs one dead-letter ID");
    if (auto m = misplaced(given, {}, command)) return fail(*m);
    auto id = read_id(words[2]);
    if (!id) return fail(id.error());
    cl.id = id.value();
    cl.command = CtlCommand::dlq_show;
    return cl;
  }
  if (verb == "replay" || verb == "purge") {
    const bool replay = verb == "replay";
    if (words.size() > 3) return fail("'" + command + "' takes one ID or --all");
    if (words.size() == 3 && cl.all)
      return fail("'" + command + "' takes an ID or --all, not both");
    if (words.size() == 2 && !cl.all) return fail("'" + command + "' needs an ID or --all");
    if (cl.all) {
      auto m = replay ? misplaced(given, {"--all", "--destination"}, command)
                      : misplaced(given, {"--all", "--destination", "--older-than"}, command);
      if (m) return fail(*m);
    } else {
      if (auto m = misplaced(given, {}, command)) return fail(*m + " (only with --all)");
      auto id = read_id(words[2]);
      if (!id) return fail(id.error());
      cl.id = id.value();
    }
    cl.command = replay ? CtlCommand::dlq_replay : CtlCommand::dlq_purge;
    return cl;
  }
  return fail("unknown command '" + command + "'; dlq commands: list, show, replay, purge");
}

std::string ctl_usage(const std::string& program) {
  return "Usage: " + program +
         " [--socket PATH | --config FILE] [--json] [--timeout DURATION] COMMAND\n"
         "\n"
         "Inspects and repairs the queue of a running ocirelayd through its admin socket.\n"
         "\n"
         "Commands:\n"
         "  queue stats                      per destination: queued, in flight, dead,\n"
         "                                   age of the oldest queued event, state\n"
         "  dlq list [--destination D] [--limit N]\n"
         "                                   dead letters, oldest first (default limit 100)\n"
         "  dlq show ID                      one dead letter: attempts, last status and\n"
         "                                   error, and the event\n"
         "  dlq replay ID | --all [--destination D]\n"
         "                                   put dead letters back at the head of their\n"
         "                                   queue with a fresh attempt count\n"
         "  dlq purge ID | --all [--destination D] [--older-than DURATION]\n"
         "                                   delete dead letters (--older-than: dead for\n"
         "                                   longer than that, e.g. 7d, 12h)\n"
         "\n"
         "Options:\n"
         "      --socket PATH    the daemon's admin socket (default " +
         std::string(kDefaultAdminSocket) +
         ")\n"
         "      --config FILE    read admin.socket from the daemon's configuration file\n"
         "      --json           print the daemon's JSON answer instead of text\n"
         "      --timeout D      how long to wait for the daemon (default 60s)\n"
         "  -V, --version        print the version and exit\n"
         "  -h, --help           print this help and exit\n"
         "\n"
         "Exit codes: 0 success, 1 the daemon failed or cannot be reached,\n"
         "2 usage or configuration error.\n";
}

CtlRequest ctl_request(const CtlCommandLine& cl) {
  std::string query;
  auto add = [&query](std::string_view name, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query += name;
    query += '=';
    query += percent_encode(value);
  };
  if (cl.destination) add("destination", *cl.destination);
  switch (cl.command) {
    case CtlCommand::queue_stats:
      return {"GET", "/v1/queue/stats"};
    case CtlCommand::dlq_list:
      if (cl.limit) add("limit", std::to_string(*cl.limit));
      return {"GET", "/v1/dlq" + query};
    case CtlCommand::dlq_show:
      return {"GET", "/v1/dlq/" + std::to_string(cl.id.value_or(0))};
    case CtlCommand::dlq_replay:
      if (cl.id) return {"POST", "/v1/dlq/" + std::to_string(*cl.id) + "/replay"};
      return {"POST", "/v1/dlq/replay" + query};
    case CtlCommand::dlq_purge:
      if (cl.id) return {"DELETE", "/v1/dlq/" + std::to_string(*cl.id)};
      if (cl.older_than) add("older_than", format_duration(*cl.older_than));
      return {"DELETE", "/v1/dlq" + query};
    case CtlCommand::none:
      break;
  }
  return {"GET", "/"};
}

}  // namespace ocirelay::admin
