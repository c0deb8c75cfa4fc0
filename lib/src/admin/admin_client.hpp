// AdminClient: ocirelayctl's side of the admin API. One HTTP/1.1 request per
// call on a fresh connection to the daemon's Unix socket, answered with the
// status and the whole body (read to its Content-Length). Every step, from
// connect to the last byte of the answer, must finish within the timeout.
//
// Thread contract: blocking; runs a private io_context on the calling thread.
// Errors are returned, never thrown.
#pragma once

#include <string>
#include <string_view>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"

namespace ocirelay::admin {

struct AdminReply {
  int status = 0;
  std::string body;
};

// Why a request got no answer. `connect` is true when the daemon could not
// be reached at all (no socket, permission denied, nobody listening).
struct AdminClientError {
  std::string message;
  bool connect = false;
};

class AdminClient {
 public:
  AdminClient(std::string socket_path, Duration timeout);

  Result<AdminReply, AdminClientError> request(std::string_view method, std::string_view target);

  const std::string& socket_path() const noexcept { return socket_path_; }

 private:
  std::string socket_path_;
  Duration timeout_;
};

}  // namespace ocirelay::admin
