// The interface between the HTTP server and what answers requests. The server
// reads a whole request within its limits and timeouts, then asks the handler.
// Tests plug their own handlers into a real Server on port 0.
#pragma once

#include <optional>

#include <boost/asio/awaitable.hpp>

#include "ocirelay/http/message.hpp"

namespace ocirelay::http {

class Handler {
 public:
  virtual ~Handler() = default;

  // Called once the request line and header are in, before the body is read.
  // A response returned here is sent at once and the body is never read (the
  // connection is closed afterwards): for 401, 404, 405, 415 on large bodies.
  virtual std::optional<Response> precheck([[maybe_unused]] const Request& header_only) {
    return std::nullopt;
  }

  // Answers a complete request. Runs on the server's executor.
  virtual boost::asio::awaitable<Response> handle(Request request) = 0;
};

}  // namespace ocirelay::http
