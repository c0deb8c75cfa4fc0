// One destination's DeliveryQueue in the relay's storage: each call is an
// operation of the StorageWorker (run on its thread, answered on the
// caller's executor).
//
// Thread and lifetime contract: as DeliveryQueue; the StorageWorker outlives
// the queue.
#pragma once

#include <string>

#include "ocirelay/delivery/delivery_queue.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace ocirelay::delivery {

class StorageDeliveryQueue final : public DeliveryQueue {
 public:
  StorageDeliveryQueue(storage::StorageWorker& storage, std::string destination);

  boost::asio::awaitable<storage::StoreResult<storage::FetchResult>> fetch_due(
      storage::Millis now, std::size_t limit) override;
  boost::asio::awaitable<storage::StoreResult<Unit>> complete(
      std::vector<storage::AttemptResult> results) override;
  bool shared() const noexcept override { return storage_.shared(); }

 private:
  storage::StorageWorker& storage_;
  std::string destination_;
};

}  // namespace ocirelay::delivery
