#include "memory_store.hpp"

#include <algorithm>
#include <utility>

namespace ocirelay::fuzz {

using storage::StoreResult;

StoreResult<std::vector<storage::InsertOutcome>> MemoryStore::insert_batch(
    std::span<const storage::NewEvent> events) {
  std::vector<storage::InsertOutcome> outcomes;
  outcomes.reserve(events.size());
  for (const auto& ev : events) {
    if (ids_.size() >= max_events_) {
      ids_.clear();
      pending_.clear();
      oldest_.clear();
    }
    if (!ids_.insert(storage::dedupe_key(ev)).second) {
      outcomes.push_back(storage::InsertOutcome::duplicate);
      inserted_.push_back({ev, storage::InsertOutcome::duplicate});
      continue;
    }
    for (const auto& d : ev.destinations) {
      ++pending_[d];
      auto [it, fresh] = oldest_.emplace(d, ev.received_at);
      if (!fresh) it->second = std::min(it->second, ev.received_at);
    }
    outcomes.push_back(storage::InsertOutcome::queued);
    inserted_.push_back({ev, storage::InsertOutcome::queued});
  }
  return outcomes;
}

StoreResult<storage::FetchResult> MemoryStore::fetch_due(const std::string&, storage::Millis,
                                                         std::size_t) {
  return storage::FetchResult{};
}

StoreResult<Unit> MemoryStore::complete(std::span<const storage::AttemptResult>) {
  return Unit{};
}

StoreResult<std::int64_t> MemoryStore::release_inflight() { return std::int64_t{0}; }

StoreResult<std::int64_t> MemoryStore::release_inflight(const std::string&) {
  return std::int64_t{0};
}

StoreResult<std::int64_t> MemoryStore::prune_dedupe(storage::Millis) { return std::int64_t{0}; }

StoreResult<std::vector<storage::DestinationStats>> MemoryStore::stats() {
  std::vector<storage::DestinationStats> out;
  for (const auto& [destination, count] : pending_) {
    storage::DestinationStats s;
    s.destination = destination;
    s.pending = count;
    s.oldest_received_at = oldest_.at(destination);
    out.push_back(std::move(s));
  }
  return out;
}

StoreResult<std::vector<storage::DeadLetter>> MemoryStore::dead_letters(std::size_t) {
  return std::vector<storage::DeadLetter>{};
}

std::vector<MemoryStore::Inserted> MemoryStore::take_inserted() {
  return std::exchange(inserted_, {});
}

}  // namespace ocirelay::fuzz
