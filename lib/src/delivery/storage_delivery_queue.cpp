#include "ocirelay/delivery/storage_delivery_queue.hpp"

#include <utility>

#include <boost/asio/use_awaitable.hpp>

namespace ocirelay::delivery {

StorageDeliveryQueue::StorageDeliveryQueue(storage::StorageWorker& storage, std::string destination)
    : storage_(storage), destination_(std::move(destination)) {}

boost::asio::awaitable<storage::StoreResult<storage::FetchResult>> StorageDeliveryQueue::fetch_due(
    storage::Millis now, std::size_t limit) {
  co_return co_await storage_.async_fetch_due(destination_, now, limit, boost::asio::use_awaitable);
}

boost::asio::awaitable<storage::StoreResult<Unit>> StorageDeliveryQueue::complete(
    std::vector<storage::AttemptResult> results) {
  co_return co_await storage_.async_complete_many(std::move(results), boost::asio::use_awaitable);
}

}  // namespace ocirelay::delivery
