// ocirelayctl against a running ocirelayd: every `queue` and `dlq` subcommand
// in text and --json, replay delivering the event, the admin socket's mode and
// lifetime, and the exit codes (1: daemon error or unreachable, 2: usage).
#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <rapidjson/document.h>
#include <sys/stat.h>

#include "support/ctl_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/relay_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
using ocirelay::http::Response;

namespace {

Reply reply(int status) {
  Response r;
  r.status = status;
  return Reply{r, ocirelay::Duration(0)};
}

// A fake OIC answering with whatever `status` holds at the time.
void answer_with(FakeHttpServer& oic, std::atomic<int>& status) {
  oic.set_script([&status](const RecordedRequest&, std::size_t) { return reply(status.load()); });
}

std::string destination(const std::string& name, const FakeHttpServer& oic,
                        const std::string& retry = "initial_backoff: 50ms, max_backoff: 100ms") {
  return "  - name: " + name + "\n    url: " + oic.url("/" + name) + "\n    retry: { " + retry +
         " }\n";
}

// A relay with an admin socket in its directory, started.
class AdminRelay {
 public:
  explicit AdminRelay(const std::string& destinations, const std::string& route_to = "[oic]")
      : relay_(""), socket_(relay_.dir().file("run/admin.sock")) {
    relay_.rewrite("destinations:\n" + destinations + "routes:\n  - { name: all, destinations: " +
                   route_to + " }\nadmin:\n  socket: " + socket_ + "\n");
    relay_.start();
  }

  RelayHarness& relay() { return relay_; }
  const std::string& socket() const { return socket_; }

  CtlResult ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--socket", socket_});
    return run_ocirelayctl(args);
  }
  // Runs with --json and parses stdout; the command must succeed.
  rapidjson::Document json(std::vector<std::string> args) const {
    args.push_back("--json");
    CtlResult r = ctl(args);
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    rapidjson::Document doc;
    doc.Parse(r.out.c_str());
    REQUIRE_FALSE(doc.HasParseError());
    return doc;
  }

  void post(long n) {
    REQUIRE(TestClient(relay_.port()).post_event(event_with_id(n)).status == 202);
  }

  // Waits until `count` dead letters exist (of `destination` when given).
  std::vector<std::int64_t> wait_for_dead(std::size_t count, const std::string& dest = {}) {
    std::vector<std::string> args{"dlq", "list"};
    if (!dest.empty()) args.insert(args.end(), {"--destination", dest});
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (;;) {
      auto doc = json(args);
      if (doc["dead_letters"].Size() == count) {
        std::vector<std::int64_t> ids;
        for (const auto& l : doc["dead_letters"].GetArray()) ids.push_back(l["id"].GetInt64());
        return ids;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        FAIL("expected " << count << " dead letters, have " << doc["dead_letters"].Size());
      }
      std::this_thread::sleep_for(50ms);
    }
  }

 private:
  RelayHarness relay_;
  std::string socket_;
};

const rapidjson::Value* find_destination(const rapidjson::Document& stats,
                                         const std::string& name) {
  for (const auto& d : stats["destinations"].GetArray()) {
    if (name == d["destination"].GetString()) return &d;
  }
  return nullptr;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("queue stats: counts and destination state, as text and JSON", "[admin]") {
  FakeHttpServer oic;
  oic.always(400);  // dead letters at once
  FakeHttpServer down;
  down.always(503);  // pauses the destination; its events wait
  AdminRelay relay(destination("oic", oic) + destination("down", down, "initial_backoff: 10s"),
                   "[oic, down]");
  for (long n = 1; n <= 3; ++n) relay.post(n);
  relay.wait_for_dead(3, "oic");
  REQUIRE(down.wait_for_requests(1, 10s));

  auto stats = relay.json({"queue", "stats"});
  const auto* o = find_destination(stats, "oic");
  const auto* d = find_destination(stats, "down");
  REQUIRE(o != nullptr);
  REQUIRE(d != nullptr);
  CHECK(std::string((*o)["state"].GetString()) == "healthy");
  CHECK((*o)["queued"].GetInt64() == 0);
  CHECK((*o)["in_flight"].GetInt64() == 0);
  CHECK((*o)["in_flight_by_node"].ObjectEmpty());
  CHECK((*o)["dead"].GetInt64() == 3);
  CHECK((*o)["oldest_age_seconds"].IsNull());
  CHECK(std::string((*d)["state"].GetString()) == "paused");
  CHECK((*d)["queued"].GetInt64() + (*d)["in_flight"].GetInt64() == 3);
  CHECK((*d)["dead"].GetInt64() == 0);
  CHECK((*d)["oldest_age_seconds"].GetInt64() >= 0);

  CtlResult text = relay.ctl({"queue", "stats"});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.err.empty());
  CHECK(contains(text.out,
                 "DESTINATION  STATE    QUEUED  IN FLIGHT  DEAD  OLDEST  IN FLIGHT BY NODE\n"));
  CHECK(contains(text.out, "\noic          healthy  0       0          3     -       -\n"));
  CHECK(contains(text.out, "\ndown         paused   "));
}

TEST_CASE("dlq list with --destination and --limit, as text and JSON", "[admin]") {
  FakeHttpServer oic;
  oic.always(400);
  FakeHttpServer other;
  other.always(202);
  AdminRelay relay(destination("oic", oic) + destination("other", other), "[oic, other]");
  for (long n = 1; n <= 3; ++n) relay.post(n);
  relay.wait_for_dead(3);

  auto all = relay.json({"dlq", "list"});
  REQUIRE(all["dead_letters"].Size() == 3);
  CHECK(all["total"].GetInt64() == 3);
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    const auto& l = all["dead_letters"][i];
    CHECK(std::string(l["event_id"].GetString()) == event_id_for(static_cast<long>(i) + 1));
    CHECK(std::string(l["destination"].GetString()) == "oic");
    CHECK(l["attempts"].GetInt() == 1);
    CHECK(l["last_status"].GetInt() == 400);
    CHECK(contains(l["last_error"].GetString(), "400"));
  }
  auto limited = relay.json({"dlq", "list", "--limit", "2"});
  CHECK(limited["dead_letters"].Size() == 2);
  CHECK(limited["total"].GetInt64() == 3);
  CHECK(relay.json({"dlq", "list", "--destination", "other"})["dead_letters"].Size() == 0);
  CHECK(relay.json({"dlq", "list", "--destination", "oic"})["dead_letters"].Size() == 3);

  CtlResult text = relay.ctl({"dlq", "list"});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK(text.out.rfind("ID  DESTINATION  EVENT ID", 0) == 0);
  for (long n = 1; n <= 3; ++n) CHECK(contains(text.out, event_id_for(n)));
  CHECK(contains(text.out, "  400  "));
  CHECK(contains(text.out, "(3 dead letters)\n"));
  CtlResult two = relay.ctl({"dlq", "list", "--limit", "2"});
  CHECK(contains(two.out, "(2 of 3 dead letters shown; raise --limit for more)"));
  CHECK_FALSE(contains(two.out, event_id_for(3)));
  CHECK(relay.ctl({"dlq", "list", "--destination", "other"}).out == "no dead letters\n");
}

TEST_CASE("dlq show: the event, attempts, last status and error", "[admin]") {
  FakeHttpServer oic;
  oic.always(500);
  AdminRelay relay(
      destination("oic", oic, "initial_backoff: 50ms, max_backoff: 100ms, max_attempts: 2"));
  relay.post(7);
  const auto ids = relay.wait_for_dead(1);
  const std::string id = std::to_string(ids[0]);

  auto doc = relay.json({"dlq", "show", id});
  CHECK(doc["id"].GetInt64() == ids[0]);
  CHECK(std::string(doc["event_id"].GetString()) == event_id_for(7));
  CHECK(doc["attempts"].GetInt() == 2);
  CHECK(doc["last_status"].GetInt() == 500);
  CHECK(contains(doc["last_error"].GetString(), "max_attempts"));
  CHECK(std::string(doc["body"].GetString()) == event_with_id(7));  // byte for byte

  CtlResult text = relay.ctl({"dlq", "show", id});
  INFO(text.out << text.err);
  CHECK(text.exit_code == 0);
  CHECK(contains(text.out, "id:           " + id + "\n"));
  CHECK(contains(text.out, "event id:     " + event_id_for(7) + "\n"));
  CHECK(contains(text.out, "attempts:     2\n"));
  CHECK(contains(text.out, "last status:  500\n"));
  CHECK(contains(text.out, "last error:   HTTP 500"));
  CHECK(contains(text.out, "event:\n" + event_with_id(7)));
}

TEST_CASE("dlq replay ID delivers the event with a fresh attempt count", "[admin]") {
  FakeHttpServer oic;
  std::atomic<int> status{500};
  answer_with(oic, status);
  AdminRelay relay(
      destination("oic", oic, "initial_backoff: 50ms, max_backoff: 100ms, max_attempts: 2"));
  relay.post(11);
  const auto ids = relay.wait_for_dead(1);
  REQUIRE(oic.request_count() == 2);
  CHECK(relay.json({"dlq", "show", std::to_string(ids[0])})["attempts"].GetInt() == 2);

  status = 202;
  CtlResult r = relay.ctl({"dlq", "replay", std::to_string(ids[0])});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "replayed 1 dead letter to oic\n");
  REQUIRE(oic.wait_for_requests(3, 10s));
  const auto request = oic.requests()[2];
  CHECK(request.body == event_with_id(11));  // unchanged
  CHECK(request.headers.get("Idempotency-Key") == event_id_for(11));
  // Attempt 1 of a fresh count: max_attempts 2 would not have allowed a third.
  REQUIRE(relay.relay().daemon().wait_for_log(
      "event " + event_id_for(11) + " delivered to oic (attempt 1,", 10s));
  CHECK(relay.json({"dlq", "list"})["dead_letters"].Size() == 0);
  auto stats = relay.json({"queue", "stats"});
  CHECK((*find_destination(stats, "oic"))["dead"].GetInt64() == 0);
  CHECK((*find_destination(stats, "oic"))["queued"].GetInt64() == 0);

  // Already replayed: not a dead letter any more.
  CtlResult again = relay.ctl({"dlq", "replay", std::to_string(ids[0])});
  CHECK(again.exit_code == 1);
  CHECK(contains(again.err, "no dead letter with id " + std::to_string(ids[0])));
}

TEST_CASE("dlq replay --all, of one destination and of all, as text and JSON", "[admin]") {
  FakeHttpServer a;
  std::atomic<int> a_status{400};
  answer_with(a, a_status);
  FakeHttpServer b;
  std::atomic<int> b_status{400};
  answer_with(b, b_status);
  AdminRelay relay(destination("a", a) + destination("b", b), "[a, b]");
  relay.post(1);
  relay.post(2);
  relay.wait_for_dead(4);
  a_status = 202;
  b_status = 202;

  CtlResult r = relay.ctl({"dlq", "replay", "--all", "--destination", "a"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "replayed 2 dead letters to a\n");
  REQUIRE(a.wait_for_requests(4, 10s));
  relay.wait_for_dead(0, "a");
  CHECK(relay.json({"dlq", "list", "--destination", "b"})["dead_letters"].Size() == 2);
  CHECK(b.request_count() == 2);

  auto all = relay.json({"dlq", "replay", "--all"});
  CHECK(all["replayed"].GetInt64() == 2);
  REQUIRE(all["destinations"].Size() == 1);
  CHECK(std::string(all["destinations"][0].GetString()) == "b");
  REQUIRE(b.wait_for_requests(4, 10s));
  relay.wait_for_dead(0);
  CHECK(relay.ctl({"dlq", "replay", "--all"}).out == "replayed 0 dead letters\n");
}

TEST_CASE("dlq purge ID, and purge --all --older-than keeps the young", "[admin]") {
  FakeHttpServer oic;
  oic.always(400);
  AdminRelay relay(destination("oic", oic));
  relay.post(1);
  relay.post(2);
  const auto first = relay.wait_for_dead(2);

  CtlResult one = relay.ctl({"dlq", "purge", std::to_string(first[0])});
  INFO(one.out << one.err);
  CHECK(one.exit_code == 0);
  CHECK(one.out == "purged 1 dead letter\n");
  relay.wait_for_dead(1);
  CtlResult gone = relay.ctl({"dlq", "show", std::to_string(first[0])});
  CHECK(gone.exit_code == 1);

  // event 2 is old by now; event 3 dies young.
  std::this_thread::sleep_for(3s);
  relay.post(3);
  const auto ids = relay.wait_for_dead(2);
  auto purged = relay.json({"dlq", "purge", "--all", "--older-than", "2s"});
  CHECK(purged["purged"].GetInt64() == 1);
  auto left = relay.json({"dlq", "list"});
  REQUIRE(left["dead_letters"].Size() == 1);
  CHECK(std::string(left["dead_letters"][0]["event_id"].GetString()) == event_id_for(3));
  CHECK(left["dead_letters"][0]["id"].GetInt64() == ids[1]);

  CHECK(relay.ctl({"dlq", "purge", "--all", "--older-than", "1h"}).out ==
        "purged 0 dead letters\n");
  CHECK(relay.ctl({"dlq", "purge", "--all"}).out == "purged 1 dead letter\n");
  relay.wait_for_dead(0);
}

TEST_CASE("the admin socket is 0660, found through --config, and removed at shutdown", "[admin]") {
  FakeHttpServer oic;
  AdminRelay relay(destination("oic", oic));
  struct stat st {};
  REQUIRE(::lstat(relay.socket().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(contains(relay.relay().log(), "admin endpoint on unix:" + relay.socket()));

  CtlResult via_config =
      run_ocirelayctl({"--config", relay.relay().config_path(), "queue", "stats"});
  INFO(via_config.out << via_config.err);
  CHECK(via_config.exit_code == 0);
  CHECK(contains(via_config.out, "oic "));

  relay.relay().daemon().signal(SIGTERM);
  REQUIRE(relay.relay().daemon().wait_exit(20s) == 0);
  CHECK_FALSE(std::filesystem::exists(relay.socket()));

  // The daemon is gone: exit 1, naming the socket.
  CtlResult down = run_ocirelayctl({"--config", relay.relay().config_path(), "queue", "stats"});
  CHECK(down.exit_code == 1);
  CHECK(down.out.empty());
  CHECK(contains(down.err, relay.socket()));
}

TEST_CASE("unknown dead-letter IDs are daemon errors (exit 1)", "[admin]") {
  FakeHttpServer oic;
  AdminRelay relay(destination("oic", oic));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"dlq", "show", "424242"},
        std::vector<std::string>{"dlq", "replay", "424242"},
        std::vector<std::string>{"dlq", "purge", "424242"}}) {
    CtlResult r = relay.ctl(args);
    INFO(args[1] << ": " << r.out << r.err);
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "ocirelayctl: no dead letter with id 424242 (HTTP 404)\n");
  }
  CtlResult json = relay.ctl({"dlq", "show", "424242", "--json"});
  CHECK(json.exit_code == 1);
  CHECK(json.out == "{\"error\":\"no dead letter with id 424242\"}\n");
  CtlResult conflict = relay.ctl({"dlq", "replay", "--all", "--destination", "nowhere"});
  CHECK(conflict.exit_code == 1);
  CHECK(contains(conflict.err, "'nowhere' is not configured"));
}

TEST_CASE("ocirelayctl without a daemon exits 1 naming the socket", "[admin]") {
  TempDir dir;
  const std::string socket = dir.file("admin.sock");
  CtlResult r = run_ocirelayctl({"--socket", socket, "queue", "stats"});
  CHECK(r.exit_code == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "cannot connect to ocirelayd's admin socket " + socket));
  CHECK(contains(r.err, "No such file or directory"));

  // A configuration without `admin:` has no socket to find: a usage error.
  const std::string config = dir.write("relay.yaml", "log: { level: info }\n");
  CtlResult none = run_ocirelayctl({"--config", config, "queue", "stats"});
  CHECK(none.exit_code == 2);
  CHECK(contains(none.err, "has no admin section"));
  const std::string bad = dir.write("bad.yaml", "admin: { socket: [1] }\n");
  CtlResult invalid = run_ocirelayctl({"--config", bad, "queue", "stats"});
  CHECK(invalid.exit_code == 2);
  CHECK(contains(invalid.err, "admin.socket"));
}

TEST_CASE("ocirelayctl usage errors exit 2, --help and --version exit 0", "[admin]") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{}, std::vector<std::string>{"dlq"},
        std::vector<std::string>{"dlq", "show", "abc"}, std::vector<std::string>{"dlq", "replay"},
        std::vector<std::string>{"dlq", "purge", "1", "--older-than", "7d"},
        std::vector<std::string>{"queue", "stats", "--frob"},
        std::vector<std::string>{"--socket", "a", "--config", "b", "queue", "stats"}}) {
    CtlResult r = run_ocirelayctl(args);
    INFO(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err.rfind("ocirelayctl: ", 0) == 0);
    CHECK(contains(r.err, "Try 'ocirelayctl --help'."));
  }
  CtlResult help = run_ocirelayctl({"--help"});
  CHECK(help.exit_code == 0);
  CHECK(help.out.rfind("Usage: ocirelayctl", 0) == 0);
  CHECK(contains(help.out, "dlq replay ID | --all [--destination D]"));
  CtlResult version = run_ocirelayctl({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(version.out.rfind("ocirelayctl ", 0) == 0);
}
