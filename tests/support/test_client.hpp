// Synchronous clients for talking to the daemon under test on 127.0.0.1:
// a well-formed HTTP(S) one (the library's HttpClient driven to completion on
// a private io_context), and a raw TCP one for malformed requests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/http/message.hpp"

namespace ocirelay::test {

struct ClientReply {
  int status = 0;  // 0: no response (error says why)
  http::Headers headers;
  std::string body;
  std::string error;
};

class TestClient {
 public:
  // ca_file set: HTTPS, trusting that CA.
  TestClient(std::uint16_t port, std::string ca_file = {});

  ClientReply request(const std::string& method, const std::string& target,
                      const std::string& body = {},
                      std::vector<std::pair<std::string, std::string>> headers = {},
                      Duration timeout = std::chrono::seconds(10)) const;
  // POST /v1/events with Content-Type: application/json.
  ClientReply post_event(const std::string& body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) const;

 private:
  std::uint16_t port_;
  std::string ca_file_;
};

// POSTs every body to /v1/events from `connections` threads at once (so the
// relay's group commit is exercised) and returns each one's status, in order.
std::vector<int> post_events(std::uint16_t port, const std::vector<std::string>& bodies,
                             std::size_t connections = 16);

// The createobject fixture with its eventID replaced by a unique one made
// from `n`; event_id_for(n) is that ID.
std::string event_with_id(long n);
std::string event_id_for(long n);

// A blocking TCP connection to 127.0.0.1:port, with send and receive
// timeouts of `io_timeout` so that no test waits forever. Throws when the
// connection cannot be made. The caller closes the descriptor.
int connect_loopback(std::uint16_t port, Duration io_timeout = std::chrono::seconds(10));

// Sends bytes on a fresh TCP connection, then reads until the peer closes or
// `timeout` passes; returns what was read.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         Duration timeout = std::chrono::seconds(5));

// "Basic base64(user:password)"
std::string basic_auth(const std::string& user, const std::string& password);

}  // namespace ocirelay::test
