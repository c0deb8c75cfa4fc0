// Disk faults, through the real ocirelayd: a full file system (a small tmpfs,
// root only), the relay's own backlog filling its file system up to
// storage.reserve, the storage file deleted while running, and storage that
// cannot be opened at start.
//
// The full-disk tests need root to mount a tmpfs; without it (or when the
// mount fails, e.g. in an unprivileged container) they print a WARN saying
// they were skipped and pass (Catch2 v2 has no SKIP).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/small_filesystem.hpp"
#include "support/temp_dir.hpp"
#include "support/test_client.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A fake OIC that answers 503 until opened, then 202; remembers what it took.
struct SwitchableOic {
  std::atomic<bool> up{false};
  std::mutex mutex;
  std::set<std::string> accepted;
  FakeHttpServer server;

  SwitchableOic() {
    server.set_script([this](const RecordedRequest& r, std::size_t) {
      if (!up.load()) return Reply{ocirelay::http::Response{503, {}, {}, false}, {}};
      if (auto key = r.headers.get("Idempotency-Key")) {
        std::lock_guard lock(mutex);
        accepted.emplace(*key);
      }
      return Reply{ocirelay::http::Response{202, {}, {}, false}, {}};
    });
  }
  std::size_t missing(const std::set<std::string>& ids) {
    std::lock_guard lock(mutex);
    std::size_t n = 0;
    for (const auto& id : ids) n += accepted.count(id) == 0 ? 1 : 0;
    return n;
  }
};

std::string relay_yaml(const std::string& storage_path, const std::string& oic_url) {
  return "server:\n  listen: \"127.0.0.1:0\"\n"
         "management:\n  listen: \"127.0.0.1:0\"\n"
         "storage:\n  path: " +
         storage_path +
         "\n"
         "log:\n  level: info\n"
         "destinations:\n  - name: oic\n    url: " +
         oic_url +
         "\n    retry: { initial_backoff: 50ms, max_backoff: 300ms, max_age: 1h }\n"
         "routes:\n  - { name: all, destinations: [oic] }\n";
}

// An event with a unique ID, padded so the disk fills in fewer requests.
std::string padded_event(long n) { return event_with_id(n) + std::string(3000, ' '); }

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// The value of an unlabelled series in /metrics; nullopt when it is absent.
std::optional<double> metric(const TestClient& client, const std::string& name) {
  const std::string body = client.request("GET", "/metrics").body;
  const std::string head = "\n" + name + " ";
  const auto at = ("\n" + body).find(head);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(body.substr(at + head.size() - 1));
}

}  // namespace

TEST_CASE("a full disk: 503 with Retry-After, health served, nothing lost, recovery by itself",
          "[disk]") {
  SmallFilesystem fs(8 * 1024 * 1024);
  if (!fs.mounted()) {
    WARN("SKIPPED: needs a small tmpfs for the storage: " << fs.why_not());
    return;
  }
  SwitchableOic oic;
  TempDir dir;
  const std::string storage = fs.file("queue.db");
  DaemonProcess::Options options;
  options.config_file = dir.write("ocirelay.yaml", relay_yaml(storage, oic.server.url("/flow")));
  options.log_file = dir.file("ocirelay.log");  // not on the small file system
  DaemonProcess daemon(options);
  daemon.start();
  TestClient client(daemon.port());

  std::set<std::string> acked;
  long next = 0;
  for (; next < 20; ++next) {
    REQUIRE(client.post_event(padded_event(next)).status == 202);
    acked.insert(event_id_for(next));
  }

  // Fill the file system, then post until storage cannot commit.
  const std::size_t filled = fs.fill("filler");
  INFO("filler " << filled << " bytes; " << fs.free_bytes() << " bytes free");
  ocirelay::test::ClientReply refused;
  for (int i = 0; i < 3000 && refused.status != 503; ++i, ++next) {
    auto r = client.post_event(padded_event(next));
    if (r.status == 202) {
      acked.insert(event_id_for(next));
    } else {
      refused = r;
    }
    REQUIRE((r.status == 202 || r.status == 503));
  }
  REQUIRE(refused.status == 503);
  CHECK(refused.headers.get("Retry-After").has_value());
  // A commit that met the full disk, or the reserve seen first: either way.
  CHECK(contains(refused.body, "storage full"));
  const long refused_event = next - 1;

  // Still serving: health 200, not ready, more refusals, no crash.
  TestClient management(daemon.management_port());
  auto health = management.request("GET", "/health");
  CHECK(health.status == 200);
  auto ready = management.request("GET", "/ready");
  CHECK(ready.status == 503);
  CHECK((contains(ready.body, "storage full") || contains(ready.body, "storage cannot commit")));
  for (int i = 0; i < 10; ++i) {
    CHECK(client.post_event(padded_event(refused_event)).status == 503);
  }
  CHECK_FALSE(daemon.wait_exit(0ms).has_value());  // still running
  const std::string log = daemon.log();
  CHECK((contains(log, "No space left on device") || contains(log, "database or disk is full") ||
         contains(log, "refusing new events (503) for lack of space")));

  // Space again: the same relay accepts the refused event, no restart.
  std::filesystem::remove(fs.file("filler"));
  int status = 0;
  REQUIRE(wait_until(
      [&] {
        status = client.post_event(padded_event(refused_event)).status;
        return status == 202;
      },
      30s));
  acked.insert(event_id_for(refused_event));
  CHECK(management.request("GET", "/ready").status == 200);
  for (int i = 0; i < 5; ++i, ++next) {
    REQUIRE(client.post_event(padded_event(next + 1)).status == 202);
    acked.insert(event_id_for(next + 1));
  }

  // Everything acknowledged is delivered once OIC answers again.
  oic.up = true;
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 60s));
  CHECK(oic.missing(acked) == 0);
  std::printf(
      "disk test: %zu events acknowledged (%ld posted), all delivered after the disk was "
      "full\n",
      acked.size(), next);

  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(30s) == 0);
  auto check = run_ocirelayd({"storage", "check", "--storage", storage});
  INFO(check.output);
  CHECK(check.exit_code == 0);
}

TEST_CASE("a full disk while OIC accepts: deliveries wait for space, none lost, none stuck",
          "[disk]") {
  SmallFilesystem fs(8 * 1024 * 1024);
  if (!fs.mounted()) {
    WARN("SKIPPED: needs a small tmpfs for the storage: " << fs.why_not());
    return;
  }
  SwitchableOic oic;
  TempDir dir;
  const std::string storage = fs.file("queue.db");
  DaemonProcess::Options options;
  options.config_file = dir.write("ocirelay.yaml", relay_yaml(storage, oic.server.url("/flow")));
  options.log_file = dir.file("ocirelay.log");
  DaemonProcess daemon(options);
  daemon.start();
  TestClient client(daemon.port());
  std::set<std::string> acked;
  for (long i = 0; i < 200; ++i) {
    REQUIRE(client.post_event(padded_event(i)).status == 202);
    acked.insert(event_id_for(i));
  }
  fs.fill("filler");
  oic.up = true;  // deliveries start while storage can hardly write
  // Until the dispatcher meets the full disk: a result it cannot record, or
  // a queue it cannot read (SQLite may still reuse -wal space for a while).
  const bool met = wait_until(
      [&] {
        const std::string log = daemon.log();
        return contains(log, "cannot record the attempt") || contains(log, "cannot read the queue");
      },
      20s);
  std::printf(
      "disk test: with the disk full, %zu of %zu events delivered; storage write failures "
      "%s\n",
      acked.size() - oic.missing(acked), acked.size(), met ? "seen" : "not seen");
  TestClient management(daemon.management_port());
  CHECK(management.request("GET", "/health").status == 200);
  CHECK_FALSE(daemon.wait_exit(0ms).has_value());

  std::filesystem::remove(fs.file("filler"));
  // Once results can be recorded everything is delivered and the queue
  // empties by itself.
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 60s));
  CHECK(wait_until(
      [&] { return contains(management.request("GET", "/health").body, "\"queued\":0,"); }, 60s));
  // The space is back: the relay takes events again by itself (a 503 with
  // Retry-After until it has measured the freed space is allowed).
  int status = 0;
  REQUIRE(wait_until(
      [&] {
        status = client.post_event(padded_event(1000)).status;
        REQUIRE((status == 202 || status == 503));
        return status == 202;
      },
      10s));
  acked.insert(event_id_for(1000));
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 30s));
  CHECK(wait_until(
      [&] { return contains(management.request("GET", "/health").body, "\"queued\":0,"); }, 30s));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(30s) == 0);
  CHECK(contains(daemon.log(), "stopped; 0 event deliveries queued"));
  auto check = run_ocirelayd({"storage", "check", "--storage", storage});
  INFO(check.output);
  CHECK(check.exit_code == 0);
}

// The case: OIC is down and the relay's own backlog fills its file
// system. Before storage.reserve, ingress answered 503 at the full disk but
// fetch_due and complete failed too ("database or disk is full"), so the
// backlog could not drain even once OIC was back. Now ingress stops at the
// reserve, deliveries go on inside it, and ingress reopens by itself once
// deliveries have freed space.
TEST_CASE(
    "a backlog fills the disk to the reserve while OIC is down: all delivered once it is "
    "back, then new events are accepted again",
    "[disk][reserve]") {
  SmallFilesystem fs(4 * 1024 * 1024);
  if (!fs.mounted()) {
    WARN("SKIPPED: needs a small tmpfs for the storage: " << fs.why_not());
    return;
  }
  SwitchableOic oic;
  TempDir dir;
  const std::string storage = fs.file("queue.db");
  DaemonProcess::Options options;
  // The default reserve: 64 MiB, at most a tenth of these 4 MiB.
  options.config_file = dir.write("ocirelay.yaml", relay_yaml(storage, oic.server.url("/flow")));
  options.log_file = dir.file("ocirelay.log");
  DaemonProcess daemon(options);
  daemon.start();
  TestClient client(daemon.port());
  TestClient management(daemon.management_port());

  // OIC down: post until the relay refuses.
  std::set<std::string> acked;
  long next = 0;
  ocirelay::test::ClientReply refused;
  for (; next < 5000 && refused.status != 503; ++next) {
    auto r = client.post_event(padded_event(next));
    REQUIRE((r.status == 202 || r.status == 503));
    if (r.status == 202) {
      acked.insert(event_id_for(next));
    } else {
      refused = r;
    }
  }
  REQUIRE(refused.status == 503);
  INFO(acked.size() << " events acknowledged; " << fs.free_bytes() << " bytes free");
  CHECK(acked.size() > 100);
  CHECK(refused.headers.get("Retry-After").has_value());
  CHECK(contains(refused.body, "storage full"));
  // The detailed /health stays 200; the ingress port's minimal one takes the
  // relay out of a load balancer's rotation, as /ready does.
  CHECK(management.request("GET", "/health").status == 200);
  CHECK(client.request("GET", "/health").status == 503);
  auto ready = management.request("GET", "/ready");
  CHECK(ready.status == 503);
  CHECK(contains(ready.body, "storage full"));
  CHECK(metric(management, "ocirelay_storage_full") == 1.0);
  CHECK(client.post_event(padded_event(next)).status == 503);
  CHECK(fs.free_bytes() > 0);  // stopped before the disk was full

  // OIC back: every acknowledged event is delivered, with no restart.
  oic.up = true;
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 60s));
  CHECK(oic.missing(acked) == 0);
  CHECK(wait_until(
      [&] { return contains(management.request("GET", "/health").body, "\"queued\":0,"); }, 30s));

  // Ingress reopens by itself: ready again, new events accepted and delivered.
  CHECK(wait_until([&] { return management.request("GET", "/ready").status == 200; }, 30s));
  CHECK(metric(management, "ocirelay_storage_full") == 0.0);
  for (int i = 0; i < 20; ++i, ++next) {
    REQUIRE(client.post_event(padded_event(next)).status == 202);
    acked.insert(event_id_for(next));
  }
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 30s));
  std::printf("reserve test: %zu events acknowledged on a 4 MiB file system, all delivered\n",
              acked.size());

  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(30s) == 0);
  auto check = run_ocirelayd({"storage", "check", "--storage", storage});
  INFO(check.output);
  CHECK(check.exit_code == 0);
}

TEST_CASE("the storage file deleted while running: new events refused, queued ones delivered",
          "[disk]") {
  SwitchableOic oic;
  TempDir dir;
  const std::string storage = dir.file("queue.db");
  DaemonProcess::Options options;
  options.config_file = dir.write("ocirelay.yaml", relay_yaml(storage, oic.server.url("/flow")));
  options.log_file = dir.file("ocirelay.log");
  DaemonProcess daemon(options);
  daemon.start();
  TestClient client(daemon.port());
  std::set<std::string> acked;
  for (long i = 0; i < 5; ++i) {
    REQUIRE(client.post_event(event_with_id(i)).status == 202);
    acked.insert(event_id_for(i));
  }
  REQUIRE(std::filesystem::remove(storage));

  auto r = client.post_event(event_with_id(100));
  CHECK(r.status == 503);
  CHECK(r.headers.get("Retry-After").has_value());
  CHECK(daemon.wait_for_log("deleted or replaced while the relay runs", 10s));
  TestClient management(daemon.management_port());
  CHECK(management.request("GET", "/ready").status == 503);
  CHECK(management.request("GET", "/health").status == 200);

  oic.up = true;
  CHECK(wait_until([&] { return oic.missing(acked) == 0; }, 30s));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait_exit(30s) == 0);
}

TEST_CASE("storage that cannot be opened at start: an error naming the file, exit 3",
          "[disk][cli]") {
  TempDir dir;
  const std::string url = "http://127.0.0.1:9/flow";  // never contacted
  auto start_with = [&](const std::string& storage) {
    const std::string config = dir.write("ocirelay.yaml", relay_yaml(storage, url));
    return run_ocirelayd({"--config", config});
  };
  // `why`: the cause, or several separated by '|' (any one of them).
  auto expect_refused = [](const ProcessResult& r, const std::string& path,
                           const std::string& why) {
    INFO(r.output);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 3);
    CHECK(contains(r.output, "cannot start: storage: " + path));
    bool named = false;
    for (std::size_t from = 0; from <= why.size();) {
      const std::size_t bar = std::min(why.find('|', from), why.size());
      named = named || contains(r.output, why.substr(from, bar - from));
      from = bar + 1;
    }
    CHECK(named);
    CHECK_FALSE(contains(r.output, "listening on"));
  };

  SECTION("a directory where the file should be") {
    const std::string path = dir.file("queue.db");
    std::filesystem::create_directory(path);
    expect_refused(start_with(path), path, "is a directory, not a database file");
  }
  SECTION("a file that is not SQLite") {
    const std::string path = dir.write("queue.db", std::string(5000, 'x'));
    expect_refused(start_with(path), path, "not an SQLite database");
    CHECK(read_file(path) == std::string(5000, 'x'));  // left alone
  }
  SECTION("its directory cannot be created") {
    dir.write("plainfile", "x");
    const std::string path = dir.file("plainfile/sub/queue.db");
    expect_refused(start_with(path), path, "Not a directory");
  }
  SECTION("a full file system") {
    SmallFilesystem full(1024 * 1024);
    if (!full.mounted()) {
      WARN("SKIPPED (full file system): " << full.why_not());
      return;
    }
    full.fill("filler");
    const std::string path = full.file("queue.db");
    expect_refused(start_with(path), path, "No space left on device|database or disk is full");
  }
  SECTION("its directory is not writable") {
    if (::geteuid() == 0) {
      // Root ignores permission bits: use a read-only file system instead.
      SmallFilesystem ro(1024 * 1024, true);
      if (!ro.mounted()) {
        WARN("SKIPPED (read-only directory): " << ro.why_not());
        return;
      }
      const std::string path = ro.file("queue.db");
      expect_refused(start_with(path), path, "Read-only file system");
    } else {
      const std::string locked = dir.file("locked");
      std::filesystem::create_directory(locked);
      ::chmod(locked.c_str(), 0500);
      const std::string path = locked + "/queue.db";
      expect_refused(start_with(path), path, "Permission denied");
      ::chmod(locked.c_str(), 0700);
    }
  }
}
