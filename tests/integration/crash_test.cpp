// Crash consistency under load: several keep-alive clients post distinct
// events to the real ocirelayd while it is killed with SIGKILL at random
// moments and restarted on the same storage. Every event that got a 2xx must
// reach the fake OIC at least once, and the storage file must pass
// `ocirelayd storage check` at the end.
//
// Environment:
//   OCIRELAY_CRASH_SEED=N    replay a run (the seed is printed)
//   OCIRELAY_CRASH_KILLS=N   number of kills (default 5)
//   OCIRELAY_LONG_TESTS=1    long mode: 20 kills unless OCIRELAY_CRASH_KILLS says otherwise
#include <catch2/catch.hpp>

#include <atomic>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/load_client.hpp"
#include "support/relay_harness.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;
namespace http = ocirelay::http;

namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (end == v || *end != '\0') {
    throw std::runtime_error(std::string(name) + " must be a number, not \"" + v + "\"");
  }
  return n;
}

bool long_mode() {
  const char* v = std::getenv("OCIRELAY_LONG_TESTS");
  return v != nullptr && *v != '\0' && std::string(v) != "0";
}

// What the fake OIC accepted: how often each eventID was answered 2xx.
struct Received {
  std::mutex mutex;
  std::map<std::string, int> counts;
};

}  // namespace

TEST_CASE("SIGKILL under load loses no acknowledged event and leaves a sound file",
          "[crash][durability]") {
  const std::uint64_t seed = env_number("OCIRELAY_CRASH_SEED", std::random_device{}());
  const std::uint64_t kills = env_number("OCIRELAY_CRASH_KILLS", long_mode() ? 20 : 5);
  constexpr int kClients = 4;
  std::printf("crash test: seed %" PRIu64 " (replay with OCIRELAY_CRASH_SEED=%" PRIu64 "), %" PRIu64
              " kills, %d clients\n",
              seed, seed, kills, kClients);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);

  // The fake OIC answers 202 after 0-20 ms, so deliveries are in flight when
  // the daemon dies; it counts every eventID it accepted.
  Received received;
  FakeHttpServer oic;
  oic.set_script([&received](const RecordedRequest& r, std::size_t index) {
    if (auto key = r.headers.get("Idempotency-Key")) {
      std::lock_guard lock(received.mutex);
      ++received.counts[std::string(*key)];
    }
    const auto delay = std::chrono::milliseconds((index * 7919) % 21);
    return Reply{http::Response{202, {}, {}, false}, delay};
  });
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
                     "\n    concurrency: 8\n"
                     "    retry: { initial_backoff: 50ms, max_backoff: 200ms, max_age: 1h }\n"
                     "routes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();

  std::atomic<std::uint16_t> port{relay.port()};
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<LoadClient>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(std::make_unique<LoadClient>(i, port, stop));

  std::uniform_int_distribution<int> alive_ms(150, 900);
  for (std::uint64_t k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(alive_ms(rng)));
    port = 0;
    relay.daemon().kill_hard();
    // The file each kill leaves (with its -wal) passes the offline check.
    auto killed = run_ocirelayd({"storage", "check", "--storage", relay.storage_path()});
    INFO("after kill " << k + 1 << ":\n" << killed.output);
    CHECK(killed.exit_code == 0);
    if (killed.exit_code != 0) std::printf("%s", killed.output.c_str());
    relay.start();  // same storage, new port
    port = relay.port();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(alive_ms(rng)));
  stop = true;
  std::set<std::string> acked;
  std::size_t failed = 0, refused = 0, duplicate_answers = 0;
  for (auto& c : clients) {
    c->join();
    acked.insert(c->acked().begin(), c->acked().end());
    CHECK(c->error().empty());
    failed += c->failed_posts();
    refused += c->refused_posts();
    duplicate_answers += c->answered_duplicate();
  }
  REQUIRE(!acked.empty());

  // Drain: everything acknowledged reaches the fake OIC.
  auto received_counts = [&] {
    std::lock_guard lock(received.mutex);
    return received.counts;
  };
  auto missing = [&] {
    const auto got = received_counts();
    std::size_t n = 0;
    for (const auto& id : acked) n += got.count(id) == 0 ? 1 : 0;
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (missing() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  const auto got = received_counts();
  std::size_t lost = 0, delivered = 0, redelivered = 0;
  for (const auto& id : acked) {
    auto it = got.find(id);
    if (it == got.end()) {
      ++lost;
    } else {
      ++delivered;
      redelivered += static_cast<std::size_t>(it->second - 1);
    }
  }
  std::printf("crash test: kills %" PRIu64
              ", acked %zu, delivered %zu, duplicate deliveries %zu, "
              "lost %zu; posts without an answer %zu, refused %zu, answered duplicate %zu\n",
              kills, acked.size(), delivered, redelivered, lost, failed, refused,
              duplicate_answers);
  std::fflush(stdout);
  INFO("seed " << seed << ": acked " << acked.size() << ", delivered " << delivered << ", lost "
               << lost);
  CHECK(lost == 0);

  // A graceful stop, then the offline check of the file the kills left.
  relay.daemon().signal(SIGTERM);
  REQUIRE(relay.daemon().wait_exit(30s) == 0);
  auto check = run_ocirelayd({"storage", "check", "--storage", relay.storage_path()});
  INFO(check.output);
  CHECK(check.exit_code == 0);
  CHECK(check.output.find("result: OK") != std::string::npos);
  CHECK(check.output.find("0 pending, 0 in flight, 0 dead") != std::string::npos);
}
