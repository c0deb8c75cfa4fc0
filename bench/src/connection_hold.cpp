#include "connection_hold.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "wire.hpp"

namespace ocirelay::bench {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsStream = ssl::stream<tcp::socket>;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string request_for(const HoldOptions& o, const std::string& body) {
  return "POST /v1/events HTTP/1.1\r\nHost: " + o.host +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

// Connects, handshakes and posts one event; the stream stays open, with no
// operation pending, when the answer was 2xx.
asio::awaitable<void> open_one(TlsStream& stream, tcp::endpoint target, std::string request,
                               HoldReport& report) {
  auto [cec] = co_await stream.next_layer().async_connect(target, kUse);
  if (!cec) {
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kUse);
    cec = hec;
  }
  if (!cec) {
    auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), kUse);
    cec = wec;
  }
  Message answer;
  std::string buffer;
  if (!cec) cec = co_await read_message(stream, buffer, answer);
  if (cec || answer.status() < 200 || answer.status() >= 300) {
    ++report.failed;
    boost::system::error_code ignored;
    stream.next_layer().close(ignored);
    co_return;
  }
  ++report.opened;
}

void pause_for(double seconds) {
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}
}  // namespace

long proc_status_kb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

ConnectionHold::ConnectionHold(HoldOptions options, const EventTemplate& event)
    : options_(std::move(options)), event_(event) {}

HoldReport ConnectionHold::run() {
  HoldReport report;
  report.rss_start_kb = proc_status_kb(options_.pid, "VmRSS");
  asio::io_context io{1};
  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);  // the relay's throwaway certificate, on loopback
  const tcp::endpoint target(asio::ip::make_address(options_.host), options_.port);
  std::vector<std::unique_ptr<TlsStream>> streams;
  streams.reserve(options_.connections);
  for (std::size_t i = 0; i < options_.connections; ++i) {
    streams.push_back(std::make_unique<TlsStream>(io, tls));
    asio::co_spawn(io,
                   open_one(*streams.back(), target,
                            request_for(options_, event_.make(options_.run, i)), report),
                   asio::detached);
  }
  io.run();  // returns once every connection has its answer (or failed)

  pause_for(options_.settle_seconds);
  report.rss_idle_kb = proc_status_kb(options_.pid, "VmRSS");
  report.hwm_kb = proc_status_kb(options_.pid, "VmHWM");

  for (auto& stream : streams) {
    boost::system::error_code ignored;
    stream->next_layer().close(ignored);
  }
  double waited = 0;
  for (const double at : options_.after_close) {
    pause_for(at - waited);
    waited = at;
    report.rss_after_close_kb.push_back(proc_status_kb(options_.pid, "VmRSS"));
  }
  return report;
}

}  // namespace ocirelay::bench
