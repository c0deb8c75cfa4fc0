// ocirelayctl's command line and the admin API request each command maps to.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "admin/ctl_command_line.hpp"
#include "admin/query_string.hpp"

using namespace ocirelay;
using namespace ocirelay::admin;
using namespace std::chrono_literals;

namespace {

CtlCommandLine parse_ok(std::vector<std::string> args) {
  auto parsed = parse_ctl_command_line(args);
  INFO((parsed.ok() ? std::string() : parsed.error()));
  REQUIRE(parsed.ok());
  return parsed.value();
}

std::string parse_error(std::vector<std::string> args) {
  auto parsed = parse_ctl_command_line(args);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

std::string request_of(std::vector<std::string> args) {
  const CtlRequest r = ctl_request(parse_ok(std::move(args)));
  return r.method + " " + r.target;
}

}  // namespace

TEST_CASE("every command maps to its admin API request", "[admin][ctl]") {
  CHECK(request_of({"queue", "stats"}) == "GET /v1/queue/stats");
  CHECK(request_of({"dlq", "list"}) == "GET /v1/dlq");
  CHECK(request_of({"dlq", "list", "--destination", "oic", "--limit", "5"}) ==
        "GET /v1/dlq?destination=oic&limit=5");
  CHECK(request_of({"dlq", "list", "--destination=a b/c"}) == "GET /v1/dlq?destination=a%20b%2Fc");
  CHECK(request_of({"dlq", "show", "42"}) == "GET /v1/dlq/42");
  CHECK(request_of({"dlq", "replay", "42"}) == "POST /v1/dlq/42/replay");
  CHECK(request_of({"dlq", "replay", "--all"}) == "POST /v1/dlq/replay");
  CHECK(request_of({"dlq", "replay", "--all", "--destination", "oic"}) ==
        "POST /v1/dlq/replay?destination=oic");
  CHECK(request_of({"dlq", "purge", "7"}) == "DELETE /v1/dlq/7");
  CHECK(request_of({"dlq", "purge", "--all"}) == "DELETE /v1/dlq");
  CHECK(request_of({"dlq", "purge", "--all", "--older-than", "7d", "--destination", "x"}) ==
        "DELETE /v1/dlq?destination=x&older_than=7d");
}

TEST_CASE("global options go anywhere", "[admin][ctl]") {
  auto cl = parse_ok({"--json", "dlq", "--socket", "/tmp/a.sock", "list", "--timeout=5s"});
  CHECK(cl.json);
  CHECK(cl.socket == "/tmp/a.sock");
  CHECK(cl.timeout == 5s);
  CHECK(cl.command == CtlCommand::dlq_list);
  auto from_config = parse_ok({"queue", "stats", "--config", "/etc/ocirelay/ocirelay.yaml"});
  CHECK(from_config.config_file == "/etc/ocirelay/ocirelay.yaml");
  CHECK(from_config.socket.empty());
  CHECK(parse_ok({"--help"}).help);
  CHECK(parse_ok({"-V"}).version);
  CHECK(parse_ok({"dlq", "-h"}).help);
}

TEST_CASE("usage errors say what is wrong", "[admin][ctl]") {
  CHECK(parse_error({}) == "no command given");
  CHECK(parse_error({"queue"}).find("queue stats") != std::string::npos);
  CHECK(parse_error({"queue", "stats", "extra"}).find("takes no arguments") != std::string::npos);
  CHECK(parse_error({"frob"}).find("unknown command 'frob'") != std::string::npos);
  CHECK(parse_error({"dlq"}).find("needs a subcommand") != std::string::npos);
  CHECK(parse_error({"dlq", "frob"}).find("unknown command 'dlq frob'") != std::string::npos);
  CHECK(parse_error({"dlq", "show"}).find("needs one dead-letter ID") != std::string::npos);
  CHECK(parse_error({"dlq", "show", "abc"}).find("bad dead-letter ID 'abc'") != std::string::npos);
  CHECK(parse_error({"dlq", "show", "0"}).find("bad dead-letter ID") != std::string::npos);
  CHECK(parse_error({"dlq", "replay"}).find("needs an ID or --all") != std::string::npos);
  CHECK(parse_error({"dlq", "replay", "1", "--all"}).find("not both") != std::string::npos);
  CHECK(parse_error({"dlq", "replay", "1", "--destination", "x"}).find("only with --all") !=
        std::string::npos);
  CHECK(parse_error({"dlq", "replay", "--all", "--older-than", "1d"})
            .find("--older-than is not an option of 'dlq replay'") != std::string::npos);
  CHECK(parse_error({"dlq", "purge", "3", "--older-than", "1d"}).find("only with --all") !=
        std::string::npos);
  CHECK(parse_error({"dlq", "purge", "--all", "--older-than", "soon"})
            .find("bad --older-than 'soon'") != std::string::npos);
  CHECK(parse_error({"dlq", "list", "--limit", "0"}).find("bad --limit") != std::string::npos);
  CHECK(parse_error({"dlq", "list", "--limit"}) == "--limit needs a value");
  CHECK(parse_error({"dlq", "show", "1", "--limit", "3"}).find("not an option of 'dlq show'") !=
        std::string::npos);
  CHECK(parse_error({"queue", "stats", "--all"}).find("not an option") != std::string::npos);
  CHECK(parse_error({"queue", "stats", "--frob"}) == "unknown option '--frob'");
  CHECK(parse_error({"queue", "stats", "--json=yes"}) == "--json takes no value");
  CHECK(parse_error({"queue", "stats", "--json", "--json"}) == "--json given twice");
  CHECK(parse_error({"queue", "stats", "--socket", "a", "--config", "b"}) ==
        "give --socket or --config, not both");
  CHECK(parse_error({"queue", "stats", "--timeout", "0s"}).find("bad --timeout") !=
        std::string::npos);
}

TEST_CASE("query strings are decoded and ids checked", "[admin][query]") {
  auto params = parse_query("destination=a%20b+c&limit=3&&flag");
  REQUIRE(params.ok());
  REQUIRE(params->size() == 3);
  CHECK((*params)[0] == std::pair<std::string, std::string>{"destination", "a b c"});
  CHECK((*params)[1] == std::pair<std::string, std::string>{"limit", "3"});
  CHECK((*params)[2] == std::pair<std::string, std::string>{"flag", ""});
  CHECK_FALSE(parse_query("a=%zz").ok());
  CHECK_FALSE(parse_query("a=%4").ok());
  CHECK(parse_query("a=1&a=2").error() == "parameter 'a' given twice");
  CHECK(parse_query("").value().empty());

  CHECK(target_path("/v1/dlq?x=1") == "/v1/dlq");
  CHECK(target_query("/v1/dlq?x=1") == "x=1");
  CHECK(target_query("/v1/dlq").empty());

  CHECK(parse_id("1") == 1);
  CHECK(parse_id("9223372036854775807") == 9223372036854775807);
  CHECK_FALSE(parse_id("9223372036854775808"));
  CHECK_FALSE(parse_id("0"));
  CHECK_FALSE(parse_id("-1"));
  CHECK_FALSE(parse_id("+1"));
  CHECK_FALSE(parse_id("1x"));
  CHECK_FALSE(parse_id(""));
  CHECK(percent_encode("a-b_c.d~e f/g") == "a-b_c.d~e%20f%2Fg");
}
