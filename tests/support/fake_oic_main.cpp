// ocirelay-fake-oic: a stand-in for an Oracle Integration REST trigger, for
// trying the relay locally (scripts/dev-run.sh). Listens on 127.0.0.1:PORT
// (default 8081; 0 picks a free port, printed in the first line), answers
// every POST with 202 Accepted, and prints one line per request received.
// With FAKE_OIC_TLS_CERT and FAKE_OIC_TLS_KEY set it speaks HTTPS with that
// certificate (tests/package/smoke_bare_root.sh). Stops on SIGINT or SIGTERM.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "support/fake_http_server.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;  // set by the signal handler only
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  (void)argc;
  (void)argv;
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  const char* port_env = std::getenv("FAKE_OIC_PORT");
  const int port = port_env ? std::atoi(port_env) : 8081;
  ocirelay::test::FakeHttpServer::Options options;
  if (const char* cert = std::getenv("FAKE_OIC_TLS_CERT")) options.cert_file = cert;
  if (const char* key = std::getenv("FAKE_OIC_TLS_KEY")) options.key_file = key;
  const bool tls = !options.cert_file.empty() && !options.key_file.empty();
  try {
    ocirelay::test::FakeHttpServer server(options, static_cast<std::uint16_t>(port));
    std::printf("fake OIC listening on 127.0.0.1:%u (%s); answering 202 to everything\n",
                server.port(), tls ? "https" : "http");
    std::fflush(stdout);
    std::size_t seen = 0;
    while (!g_stop) {
      if (server.wait_for_requests(seen + 1, std::chrono::milliseconds(200))) {
        auto all = server.requests();
        for (; seen < all.size(); ++seen) {
          const auto& r = all[seen];
          std::printf("fake OIC: %s %s Idempotency-Key=%s, %zu bytes -> 202\n", r.method.c_str(),
                      r.target.c_str(),
                      std::string(r.headers.get("Idempotency-Key").value_or("-")).c_str(),
                      r.body.size());
        }
        std::fflush(stdout);
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake OIC: %s\n", e.what());
    return 1;
  }
  return 0;
}
