// The queue of one destination as its Dispatcher sees it: take the due
// deliveries, record an attempt's result. StorageDeliveryQueue implements it
// over the StorageWorker; tests implement it over a Store of their own.
//
// Thread and lifetime contract: called on the dispatcher's executor, one
// coroutine per call, several calls may be in flight at once; the queue
// outlives them.
#pragma once

#include <cstddef>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "ocirelay/storage/records.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::delivery {

class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;

  // Up to `limit` deliveries due at `now`, oldest first, now marked inflight;
  // and when the next one not yet due will be (Store::fetch_due).
  virtual boost::asio::awaitable<storage::StoreResult<storage::FetchResult>> fetch_due(
      storage::Millis now, std::size_t limit) = 0;

  // Whether other relays take from the same queue (Store::shared): the
  // dispatcher then claims only what it can send soon (one round ahead),
  // and gives back what waits when its destination pauses.
  virtual bool shared() const noexcept { return false; }

  // Records the results of one attempt (Store::complete): one delivery's,
  // or those of all the deliveries of a batch, in one transaction.
  virtual boost::asio::awaitable<storage::StoreResult<Unit>> complete(
      std::vector<storage::AttemptResult> results) = 0;
};

}  // namespace ocirelay::delivery
