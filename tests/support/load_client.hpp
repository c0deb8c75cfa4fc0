// A sender for load and crash tests: a keep-alive HTTP client on a thread of
// its own posting distinct events (event_with_id) to the relay in a loop. A
// post that fails or is answered with anything but 202/200 is sent again with
// the same eventID, like a real sender, until a 2xx. It follows the relay to
// a new port after a restart (the port is read before every post; 0 means
// "down, wait").
//
// Thread and lifetime contract: the constructor starts the thread; `port`
// and `stop` are shared with the test thread and must outlive the client.
// Results are read after join() (the destructor joins too).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

namespace ocirelay::test {

class LoadClient {
 public:
  // Event numbers are index * 10,000,000 + a sequence, so clients never share one.
  LoadClient(int index, std::atomic<std::uint16_t>& port, std::atomic<bool>& stop);
  ~LoadClient();
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  void join();

  // Every eventID answered 202 (queued) or 200 (duplicate: stored before).
  const std::vector<std::string>& acked() const noexcept { return acked_; }
  std::size_t answered_duplicate() const noexcept { return duplicates_; }
  std::size_t failed_posts() const noexcept { return failed_; }    // no answer
  std::size_t refused_posts() const noexcept { return refused_; }  // another status
  const std::string& error() const noexcept { return error_; }     // an exception, if any

 private:
  void run();
  boost::asio::awaitable<void> loop(boost::asio::io_context& io);

  int index_;
  std::atomic<std::uint16_t>& port_;
  std::atomic<bool>& stop_;
  std::vector<std::string> acked_;
  std::size_t duplicates_ = 0;
  std::size_t failed_ = 0;
  std::size_t refused_ = 0;
  std::string error_;
  std::thread thread_;
};

}  // namespace ocirelay::test
