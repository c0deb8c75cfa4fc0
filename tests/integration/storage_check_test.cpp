// `ocirelayd storage check` through the real binary: exit codes, the report,
// and that it neither creates nor changes the file.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string routes_to(const FakeHttpServer& oic) {
  return "destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
         "\n    retry: { initial_backoff: 100ms, max_backoff: 500ms, max_age: 1h }\n"
         "routes:\n  - { name: all, destinations: [oic] }\n";
}

}  // namespace

TEST_CASE("storage check: usage errors exit 2", "[cli][storage-check]") {
  auto none = run_ocirelayd({"storage", "check"});
  CHECK(none.exit_code == 2);
  CHECK(contains(none.output, "storage check needs either --config FILE or --storage PATH"));
  auto sub = run_ocirelayd({"storage", "frob"});
  CHECK(sub.exit_code == 2);
  CHECK(contains(sub.output, "storage check"));
  auto extra = run_ocirelayd({"storage", "check", "--storage", "/tmp/x.db", "--check-config"});
  CHECK(extra.exit_code == 2);
  auto help = run_ocirelayd({"--help"});
  CHECK(contains(help.output, "storage check [--config FILE | --storage PATH]"));
}

TEST_CASE("storage check: a missing file is refused with exit 3 and not created",
          "[cli][storage-check]") {
  TempDir dir;
  const std::string path = dir.file("queue.db");
  auto r = run_ocirelayd({"storage", "check", "--storage", path});
  INFO(r.output);
  CHECK(r.exit_code == 3);
  CHECK(contains(r.output, path + ": does not exist"));
  CHECK(contains(r.output, "result: CANNOT OPEN"));
  CHECK_FALSE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_CASE("storage check: the file of a relay that ran, by --config and by --storage",
          "[cli][storage-check]") {
  FakeHttpServer down;
  down.always(503);
  RelayHarness relay(routes_to(down));
  relay.start();
  TestClient client(relay.port());
  for (int i = 0; i < 200; ++i) {
    REQUIRE(client.post_event(event_with_id(i) + std::string(1000, ' ')).status == 202);
  }
  relay.daemon().signal(SIGTERM);
  REQUIRE(relay.daemon().wait_exit(30s) == 0);
  const std::string path = relay.storage_path();
  const std::string before = read_file(path);

  auto by_config = run_ocirelayd({"storage", "check", "--config", relay.config_path()});
  INFO(by_config.output);
  CHECK(by_config.exit_code == 0);
  CHECK(contains(by_config.output, "storage check: " + path));
  CHECK(contains(by_config.output, "200 events stored; deliveries 200 pending, 0 in flight"));
  CHECK(contains(by_config.output, "write-ahead log: none"));
  CHECK(contains(by_config.output, "result: OK"));
  auto by_path = run_ocirelayd({"storage", "check", "--storage", path});
  CHECK(by_path.exit_code == 0);
  CHECK(read_file(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));

  // Damage the last pages: problems found, exit 1.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = static_cast<std::streamoff>(before.size());
    for (std::streamoff at = size - 4 * 4096; at < size; at += 4096) {
      f.seekp(at);
      const std::string junk(64, '\xA5');
      f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
  }
  auto damaged = run_ocirelayd({"storage", "check", "--storage", path});
  INFO(damaged.output);
  CHECK(damaged.exit_code == 1);
  CHECK(contains(damaged.output, "PROBLEM: "));
  CHECK(contains(damaged.output, "problem"));
}
