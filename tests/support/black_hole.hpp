// Destinations that never answer, for shutdown tests, on 127.0.0.1 port 0:
//
// - BlackHoleListener accepts TCP connections and then says nothing, ever: a
//   plain-HTTP request waits for a response, and an https request waits in
//   the TLS handshake (the ClientHello is never answered).
// - FullBacklogListener listens with a backlog of 0 and never accepts, and
//   fills that backlog itself: the kernel then drops every further SYN, so a
//   client's TCP connect never completes (until its own timeout).
//
// Thread contract: BlackHoleListener runs one accept thread; the destructors
// close every socket and join it. Used from the test thread only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace ocirelay::test {

class BlackHoleListener {
 public:
  BlackHoleListener();
  ~BlackHoleListener();
  BlackHoleListener(const BlackHoleListener&) = delete;
  BlackHoleListener& operator=(const BlackHoleListener&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // Connections accepted so far.
  std::size_t accepted() const noexcept { return accepted_.load(); }
  // Waits until at least `n` connections were accepted; false on timeout.
  bool wait_accepted(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  void run();

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe: the destructor's "stop"
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0};
  std::vector<int> held_;  // accept thread only
  std::thread thread_;
};

class FullBacklogListener {
 public:
  // Throws when the backlog cannot be filled (a connect still completes).
  FullBacklogListener();
  ~FullBacklogListener();
  FullBacklogListener(const FullBacklogListener&) = delete;
  FullBacklogListener& operator=(const FullBacklogListener&) = delete;

  std::uint16_t port() const noexcept { return port_; }

 private:
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> fillers_;  // connections queued in, or stuck before, the backlog
};

}  // namespace ocirelay::test
