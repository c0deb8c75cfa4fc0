// Sink: a fast stand-in for an OIC REST trigger. Answers every POST with 202
// and no body, notes when each benchmark event arrived (by the sequence number
// in its Idempotency-Key, or, for a batch (X-Event-Count), in each eventID of
// its body), counts requests and the OIC messages they would be billed as
// (ceil(body bytes / 51,200) each), and answers GET /stats with its counters
// as JSON.
//
// Thread and lifetime contract: start() spawns the accept loop on the given
// io_context; all I/O runs on that context's one thread. received(),
// duplicates(), first_ns(), last_ns() and arrival() may be read from any
// thread (atomics; an arrival time is published before the count that covers
// it). The Sink must outlive the io_context's run().
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace ocirelay::bench {

class Sink {
 public:
  // Binds 127.0.0.1:port (0 picks one). `expect` sizes the arrival table;
  // events with a larger sequence number are counted but not timed.
  Sink(boost::asio::io_context& io, unsigned short port, std::size_t expect);

  void start();
  unsigned short port() const { return port_; }

  std::uint64_t received() const { return received_.load(std::memory_order_acquire); }
  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t billed_messages() const { return billed_.load(std::memory_order_relaxed); }
  std::uint64_t duplicates() const { return duplicates_.load(std::memory_order_relaxed); }
  std::int64_t first_ns() const { return first_ns_.load(std::memory_order_relaxed); }
  std::int64_t last_ns() const { return last_ns_.load(std::memory_order_relaxed); }
  // When event `seq` first arrived, 0 if it has not (or is out of the table).
  std::int64_t arrival(std::uint64_t seq) const;

 private:
  boost::asio::awaitable<void> accept_loop();
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  void record(std::int64_t now, std::uint64_t seq, bool has_seq);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::unique_ptr<std::atomic<std::int64_t>[]> arrivals_;
  std::size_t capacity_ = 0;
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> billed_{0};
  std::atomic<std::uint64_t> duplicates_{0};
  std::atomic<std::int64_t> first_ns_{0};
  std::atomic<std::int64_t> last_ns_{0};
};

}  // namespace ocirelay::bench
