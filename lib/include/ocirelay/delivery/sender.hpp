// What a Dispatcher sends an attempt through: one request to its destination,
// answered with the HTTP response or why there is none. The dispatcher first
// has each event shaped (shape(): the destination's `payload:`), then sends
// either one shaped event alone or a batch body built from several
// (BatchBody). EventSender is the real one (HTTP client, payload, auth);
// tests script their own.
//
// Thread and lifetime contract: used on the dispatcher's executor; several
// send() calls may be in flight at once; the sender outlives them. cancel()
// (at shutdown) makes them complete promptly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "ocirelay/common/result.hpp"
#include "ocirelay/http/client.hpp"

namespace ocirelay::delivery {

class Sender {
 public:
  virtual ~Sender() = default;

  // The body this destination receives for `event` sent alone; a batch
  // carries exactly these bytes for each of its events.
  virtual std::string shape(std::string_view event) const = 0;

  // Sends `body` (already shaped) with `Idempotency-Key: <key>`. `events` is
  // the count of a batch body (sent as X-Event-Count); nullopt for a single
  // event sent unbatched.
  virtual boost::asio::awaitable<Result<http::ClientResponse, http::ClientError>> send(
      const std::string& key, std::string_view body, std::optional<std::size_t> events) = 0;

  // Aborts the sends in flight.
  virtual void cancel() = 0;
};

}  // namespace ocirelay::delivery
