// The systemd notify protocol, with a fake NOTIFY_SOCKET made by the test:
// READY=1 once listening, WATCHDOG=1 keep-alives, STOPPING=1 on SIGTERM.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <thread>

#include "support/daemon_process.hpp"
#include "support/fake_http_server.hpp"
#include "support/fixtures.hpp"
#include "support/relay_harness.hpp"

using namespace ocirelay::test;
using namespace std::chrono_literals;

namespace {

// A datagram socket at `path`, like the one systemd gives a Type=notify unit.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof addr.sun_path);
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~FakeNotifySocket() { ::close(fd_); }

  // Every message received so far (waiting up to `timeout` for the first).
  std::vector<std::string> drain(std::chrono::milliseconds timeout) {
    std::vector<std::string> out;
    pollfd p{fd_, POLLIN, 0};
    int wait_ms = static_cast<int>(timeout.count());
    while (::poll(&p, 1, wait_ms) > 0) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      out.emplace_back(buf, static_cast<std::size_t>(n));
      wait_ms = 0;
    }
    return out;
  }

 private:
  int fd_ = -1;
};

}  // namespace

TEST_CASE("READY, WATCHDOG and STOPPING reach a fake NOTIFY_SOCKET in order", "[systemd]") {
  FakeHttpServer oic;
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
                     "\nroutes:\n  - { name: all, destinations: [oic] }\n");
  const std::string socket_path = relay.dir().file("notify.sock");
  FakeNotifySocket notify(socket_path);
  relay.options().extra_env.push_back("NOTIFY_SOCKET=" + socket_path);
  relay.options().extra_env.push_back("WATCHDOG_USEC=400000");  // keep-alive every 200 ms
  relay.start();

  std::vector<std::string> messages;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  auto count_watchdogs = [&] {
    return std::count_if(messages.begin(), messages.end(),
                         [](const std::string& m) { return m == "WATCHDOG=1"; });
  };
  while (count_watchdogs() < 3 && std::chrono::steady_clock::now() < deadline) {
    for (auto& m : notify.drain(500ms)) messages.push_back(m);
  }
  relay.daemon().signal(SIGTERM);
  REQUIRE(relay.daemon().wait_exit(20s) == 0);
  for (auto& m : notify.drain(200ms)) messages.push_back(m);

  REQUIRE_FALSE(messages.empty());
  CHECK(messages.front().rfind("READY=1\nSTATUS=listening on 127.0.0.1:", 0) == 0);
  CHECK(count_watchdogs() >= 3);
  auto stopping = std::find_if(messages.begin(), messages.end(), [](const std::string& m) {
    return m.rfind("STOPPING=1", 0) == 0;
  });
  REQUIRE(stopping != messages.end());
  // Nothing but (late) watchdog pings after STOPPING, and READY came first.
  for (auto it = stopping + 1; it != messages.end(); ++it) CHECK(*it == "WATCHDOG=1");
  CHECK(std::find(messages.begin() + 1, messages.end(), messages.front()) == messages.end());
}

TEST_CASE("without NOTIFY_SOCKET the daemon runs the same", "[systemd]") {
  FakeHttpServer oic;
  RelayHarness relay("destinations:\n  - name: oic\n    url: " + oic.url("/flow") +
                     "\nroutes:\n  - { name: all, destinations: [oic] }\n");
  relay.start();
  CHECK(relay.log().find("systemd watchdog") == std::string::npos);
  relay.daemon().signal(SIGTERM);
  CHECK(relay.daemon().wait_exit(20s) == 0);
}

namespace {

// Runs a shell command, returning its exit code and combined output.
std::pair<int, std::string> shell(const std::string& command) {
  std::string output;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p) != nullptr) output += buf;
  const int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

// The repository's unit, pointed at the binary under test.
std::string unit_for_test(const TempDir& dir) {
  std::string unit = read_file(std::string(OCIRELAY_SOURCE_DIR) + "/systemd/ocirelay.service");
  for (std::size_t at; (at = unit.find("/usr/sbin/ocirelayd")) != std::string::npos;) {
    unit.replace(at, std::strlen("/usr/sbin/ocirelayd"), ocirelayd_path());
  }
  return dir.write("ocirelay.service", unit);
}

}  // namespace

TEST_CASE("the unit file passes systemd-analyze verify", "[systemd][unit]") {
  TempDir dir;
  auto [code, output] = shell("systemd-analyze verify '" + unit_for_test(dir) + "'");
  INFO(output);
  CHECK(code == 0);
}

TEST_CASE("the unit file's exposure level is 2.0 or lower", "[systemd][unit]") {
  TempDir dir;
  auto [code, output] =
      shell("systemd-analyze security --offline=true '" + unit_for_test(dir) + "'");
  INFO(output);
  REQUIRE(code == 0);
  const std::string marker = "Overall exposure level for ocirelay.service: ";
  const auto at = output.find(marker);
  REQUIRE(at != std::string::npos);
  const double level = std::stod(output.substr(at + marker.size()));
  std::printf("systemd-analyze security: exposure level %.1f\n", level);
  CHECK(level <= 2.0);
}
