#include "load_generator.hpp"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "clock.hpp"
#include "wire.hpp"

namespace ocirelay::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxFailuresInARow = 250;  // about 5 s of refused connections

struct Shared {
  const LoadOptions& options;
  const EventTemplate& event;
  std::vector<tcp::endpoint> targets;
  std::uint64_t next = 0;  // single-threaded: the generator's io_context
  LoadReport& report;
};

// The request for events first .. first + n - 1: one event alone, or a
// CloudEvents batch (a JSON array of structured events).
std::string request_for(const Shared& s, std::uint64_t first, std::uint64_t n) {
  const bool batch = s.options.batch > 1;
  std::string body;
  if (batch) {
    body.reserve(n * (s.event.size() + 32) + 2);
    body += '[';
    for (std::uint64_t i = 0; i < n; ++i) {
      if (i > 0) body += ',';
      body += s.event.make(s.options.run, first + i, s.options.ids);
    }
    body += ']';
  } else {
    body = s.event.make(s.options.run, first, s.options.ids);
  }
  std::string out;
  out.reserve(body.size() + 180);
  out += "POST ";
  out += s.options.path;
  out += " HTTP/1.1\r\nHost: ";
  out += s.options.host;
  out += batch ? "\r\nContent-Type: application/cloudevents-batch+json"
               : "\r\nContent-Type: application/json";
  out += "\r\nContent-Length: ";
  out += std::to_string(body.size());
  out += "\r\n\r\n";
  out += body;
  return out;
}

asio::awaitable<void> connection(Shared& s, tcp::endpoint target) {
  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  std::string buffer;
  Message answer;
  std::uint64_t seq = 0;  // the request's first event
  std::uint64_t n = 1;    // and its number of events
  bool have_seq = false;
  int failures_in_a_row = 0;
  for (;;) {
    if (!have_seq) {
      if (s.next >= s.options.count) {
        co_return;
      }
      seq = s.next;
      n = std::min<std::uint64_t>(std::max<std::size_t>(s.options.batch, 1), s.options.count - seq);
      s.next += n;
      have_seq = true;
      if (s.options.rate > 0) {  // a steady rate: event seq at seq / rate seconds
        const auto due = s.report.started_ns +
                         static_cast<std::int64_t>(static_cast<double>(seq) * 1e9 / s.options.rate);
        if (const auto wait = due - now_ns(); wait > 0) {
          asio::steady_timer pace(executor, std::chrono::nanoseconds(wait));
          co_await pace.async_wait(kUse);
        }
      }
    }
    if (!socket.is_open()) {
      auto [cec] = co_await socket.async_connect(target, kUse);
      if (cec) {
        ++s.report.errors;
        socket.close();
        if (++failures_in_a_row > kMaxFailuresInARow) {
          co_return;
        }
        asio::steady_timer pause(executor, std::chrono::milliseconds(20));
        co_await pause.async_wait(kUse);
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      buffer.clear();
    }
    const std::string request = request_for(s, seq, n);
    const auto sent = now_ns();
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(request), kUse);
    boost::system::error_code rec = wec;
    if (!rec) {
      rec = co_await read_message(socket, buffer, answer);
    }
    if (rec) {
      ++s.report.errors;
      socket.close();
      if (++failures_in_a_row > kMaxFailuresInARow) {
        co_return;  // the relay is gone; the report shows what was answered
      }
      continue;  // the same event again on a new connection
    }
    failures_in_a_row = 0;
    const auto acked = now_ns();
    const int status = answer.status();
    if (status >= 200 && status < 300) {
      s.report.accepted += n;
      ++s.report.requests;
      for (std::uint64_t i = seq; i < seq + n; ++i) {
        s.report.sent_ns[i] = sent;
        s.report.acked_ns[i] = acked;
      }
      s.report.latency_us.push_back(static_cast<std::uint32_t>((acked - sent) / 1000));
    } else {
      s.report.refused += n;
    }
    have_seq = false;
    const auto connection_header = answer.header("Connection");
    if (connection_header && *connection_header == "close") {
      socket.close();
    }
  }
}
}  // namespace

LoadGenerator::LoadGenerator(LoadOptions options, const EventTemplate& event)
    : options_(std::move(options)), event_(event) {}

LoadReport LoadGenerator::run() {
  LoadReport report;
  report.sent_ns.assign(options_.count, 0);
  report.acked_ns.assign(options_.count, 0);
  report.latency_us.reserve(options_.count);
  asio::io_context io{1};
  Shared shared{options_, event_, {}, 0, report};
  const auto address = asio::ip::make_address(options_.host);
  for (const auto port : options_.ports) {
    shared.targets.emplace_back(address, port);
  }
  report.started_ns = now_ns();
  for (std::size_t i = 0; i < options_.connections; ++i) {
    asio::co_spawn(io, connection(shared, shared.targets[i % shared.targets.size()]),
                   asio::detached);
  }
  io.run();
  report.finished_ns = now_ns();
  return report;
}

}  // namespace ocirelay::bench
