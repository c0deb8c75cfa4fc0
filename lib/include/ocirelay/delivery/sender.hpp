// What a Dispatcher sends an attempt through: one event to its destination,
// answered with the HTTP response or why there is none. EventSender is the
// real one (HTTP client, payload, auth); tests script their own.
//
// Thread and lifetime contract: used on the dispatcher's executor; several
// send() calls may be in flight at once; the sender outlives them. cancel()
// (at shutdown) makes them complete promptly.
#pragma once

#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/result.hpp"
#include "ocirelay/http/client.hpp"

namespace ocirelay::delivery {

class Sender {
 public:
  virtual ~Sender() = default;

  virtual boost::asio::awaitable<Result<http::ClientResponse, http::ClientError>> send(
      const std::string& event_id, std::string_view event) = 0;

  // Aborts the sends in flight.
  virtual void cancel() = 0;
};

}  // namespace ocirelay::delivery
