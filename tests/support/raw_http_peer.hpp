// A plain-TCP HTTP/1.1 peer on 127.0.0.1, port 0, that answers at the socket
// level, for the faults the library's own server (FakeHttpServer) cannot
// produce: a connection reset in the middle of a response, a response that
// trickles in byte by byte, a connection held open with no answer at all,
// bytes that are not HTTP. Requests are read up to their Content-Length body
// (no chunked bodies) and recorded like FakeHttpServer's.
//
// Made with Start::refusing, the port is bound but not listening, so every
// connection to it is refused (ECONNREFUSED) until listen() is called; the
// port stays the same, with no window in which another socket could take it.
//
// Thread contract: one accept thread and one thread per connection; the
// script runs on a connection thread, so it must be thread-safe. Recorded
// requests are read from the test thread under a mutex. The destructor
// closes every connection (held ones too) and joins all threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ocirelay/common/duration.hpp"
#include "support/fake_http_server.hpp"

namespace ocirelay::test {

struct RawReply {
  enum class Then {
    keep_alive,  // read the next request on the same connection
    close,       // orderly close (FIN)
    reset,       // abortive close (RST, SO_LINGER 0)
    hold,        // keep the connection open, silent, until the client leaves
  };
  std::string bytes;    // sent once the request has been read
  Duration trickle{0};  // > 0: one byte at a time, this long apart
  Then then = Then::keep_alive;
};

// A complete response: status line, Content-Length, the extra headers, body.
RawReply raw_response(int status, std::string body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {});

class RawHttpPeer {
 public:
  using Script = std::function<RawReply(const RecordedRequest& request, std::size_t index)>;
  enum class Start { listening, refusing };

  // Answers 202 with no body until a script is set.
  explicit RawHttpPeer(Start start = Start::listening);
  ~RawHttpPeer();
  RawHttpPeer(const RawHttpPeer&) = delete;
  RawHttpPeer& operator=(const RawHttpPeer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // "http://127.0.0.1:PORT" + path
  std::string url(const std::string& path) const;

  // Starts accepting connections (after Start::refusing). Idempotent.
  void listen();

  void set_script(Script script);
  std::vector<RecordedRequest> requests() const;
  std::size_t request_count() const;
  // Waits until at least n requests have arrived; false on timeout.
  bool wait_for_requests(std::size_t n, Duration timeout) const;
  // Connections accepted so far.
  std::size_t connection_count() const;

 private:
  void accept_loop();
  void serve(int fd);
  bool stopping() const noexcept { return stopping_.load(); }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  bool listening_ = false;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  std::vector<std::thread> connections_;
  std::vector<RecordedRequest> recorded_;
  std::size_t accepted_ = 0;
  Script script_;
};

}  // namespace ocirelay::test
