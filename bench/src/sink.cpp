#include "sink.hpp"

#include <algorithm>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "clock.hpp"
#include "event_template.hpp"
#include "wire.hpp"

namespace ocirelay::bench {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kAccepted =
    "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
constexpr std::string_view kEventId = "\"eventID\"";
constexpr std::uint64_t kBilledUnit = 51200;  // one OIC message
}  // namespace

Sink::Sink(asio::io_context& io, unsigned short port, std::size_t expect)
    : io_(io),
      acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port)),
      port_(acceptor_.local_endpoint().port()),
      arrivals_(new std::atomic<std::int64_t>[expect + 1]),
      capacity_(expect + 1) {
  for (std::size_t i = 0; i < capacity_; ++i) {
    arrivals_[i].store(0, std::memory_order_relaxed);
  }
}

void Sink::start() { asio::co_spawn(io_, accept_loop(), asio::detached); }

std::int64_t Sink::arrival(std::uint64_t seq) const {
  return seq < capacity_ ? arrivals_[seq].load(std::memory_order_relaxed) : 0;
}

void Sink::record(std::int64_t now, std::uint64_t seq, bool has_seq) {
  bool repeat = false;
  if (has_seq && seq < capacity_) {
    std::int64_t expected = 0;
    repeat = !arrivals_[seq].compare_exchange_strong(expected, now, std::memory_order_relaxed);
  }
  if (repeat) {
    duplicates_.fetch_add(1, std::memory_order_relaxed);
  }
  std::int64_t zero = 0;
  first_ns_.compare_exchange_strong(zero, now, std::memory_order_relaxed);
  last_ns_.store(now, std::memory_order_relaxed);
  received_.fetch_add(1, std::memory_order_release);
}

asio::awaitable<void> Sink::accept_loop() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kUse);
    if (ec == asio::error::operation_aborted) {
      co_return;
    }
    if (ec) {
      // Out of descriptors or similar: wait a little instead of spinning.
      asio::steady_timer pause(io_, std::chrono::milliseconds(50));
      co_await pause.async_wait(kUse);
      continue;
    }
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> Sink::serve(tcp::socket socket) {
  std::string buffer;
  Message message;
  for (;;) {
    const auto ec = co_await read_message(socket, buffer, message);
    if (ec) {
      co_return;
    }
    std::string stats;
    std::string_view answer = kAccepted;
    if (message.start_line().substr(0, 4) == "GET ") {
      const std::string json = "{\"received\":" + std::to_string(received()) +
                               ",\"duplicates\":" + std::to_string(duplicates()) +
                               ",\"requests\":" + std::to_string(requests()) +
                               ",\"billed_messages\":" + std::to_string(billed_messages()) +
                               ",\"first_ns\":" + std::to_string(first_ns()) +
                               ",\"last_ns\":" + std::to_string(last_ns()) + "}";
      stats = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
              std::to_string(json.size()) + "\r\n\r\n" + json;
      answer = stats;
    } else {
      const auto now = now_ns();
      requests_.fetch_add(1, std::memory_order_relaxed);
      billed_.fetch_add(
          std::max<std::uint64_t>(1, (message.body.size() + kBilledUnit - 1) / kBilledUnit),
          std::memory_order_relaxed);
      if (message.header("X-Event-Count")) {
        // A batch: every "eventID": "<run>-<seq>" in the body is an event.
        std::string_view body = message.body;
        for (auto at = body.find(kEventId); at != std::string_view::npos;
             at = body.find(kEventId, at + 1)) {
          const auto open = body.find('"', at + kEventId.size());
          const auto close = open == std::string_view::npos ? open : body.find('"', open + 1);
          if (close == std::string_view::npos) break;
          const auto seq = EventTemplate::seq_of(body.substr(open + 1, close - open - 1));
          record(now, seq.value_or(0), seq.has_value());
        }
      } else {
        const auto key = message.header("Idempotency-Key");
        const auto seq = key ? EventTemplate::seq_of(*key) : std::nullopt;
        record(now, seq.value_or(0), seq.has_value());
      }
    }
    auto [wec, n] = co_await asio::async_write(socket, asio::buffer(answer), kUse);
    if (wec) {
      co_return;
    }
  }
}

}  // namespace ocirelay::bench
