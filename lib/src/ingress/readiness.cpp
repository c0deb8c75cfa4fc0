#include "ocirelay/ingress/readiness.hpp"

#include <utility>

namespace ocirelay::ingress {

Readiness::Readiness(std::function<bool()> shutting_down, const storage::StorageWorker& storage)
    : shutting_down_(std::move(shutting_down)), storage_(storage) {}

void Readiness::commit_failed() {
  storage_failed_at_ = std::chrono::steady_clock::now();
  recoveries_at_failure_ = storage_.recoveries();
}

void Readiness::commit_succeeded() { storage_failed_at_.reset(); }

std::optional<std::string_view> Readiness::not_ready_reason() const {
  if (shutting_down_ && shutting_down_()) return "shutting down";
  if (storage_.unreachable()) return "storage unreachable";
  if (!storage_.space().accepting) return "storage full";
  if (storage_failed_at_ && storage_.recoveries() == recoveries_at_failure_ &&
      std::chrono::steady_clock::now() - *storage_failed_at_ < kStorageFailureHold) {
    return "storage cannot commit";
  }
  return std::nullopt;
}

}  // namespace ocirelay::ingress
