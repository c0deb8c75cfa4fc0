// The relay's own SQLite store, called as StorageWorker calls it when a
// round holds several parts: one group, durable because it holds inserts.
#include <utility>

#include "engine.hpp"
#include "ocirelay/storage/store.hpp"

namespace ocirelay::bench {

namespace {

constexpr const char* kDestination = "sink";

class SqliteEngine final : public StoreEngine {
 public:
  explicit SqliteEngine(std::unique_ptr<storage::Store> store) : store_(std::move(store)) {}

  Result<ProbeRoundResult> run(const ProbeRound& round) override {
    if (!store_->begin_group(true)) return fail("sqlite: could not open the round's transaction");
    auto out = run_parts(round);
    if (!out) {
      store_->abort_group();
      return out;
    }
    if (auto committed = store_->end_group(); !committed) {
      return fail("sqlite: commit: " + committed.error().message);
    }
    return out;
  }

 private:
  Result<ProbeRoundResult> run_parts(const ProbeRound& round) {
    ProbeRoundResult out;
    if (!round.events.empty()) {
      auto inserted = store_->insert_batch(round.events);
      if (!inserted) return fail("sqlite: insert: " + inserted.error().message);
      for (const auto& outcome : inserted.value()) {
        if (outcome == storage::InsertOutcome::duplicate) ++out.duplicates;
      }
    }
    if (!round.delivered.empty()) {
      results_.clear();
      for (const auto id : round.delivered) {
        storage::AttemptResult result;
        result.id = id;
        result.kind = storage::AttemptResult::Kind::delivered;
        result.attempts = 1;
        result.last_status = 200;
        results_.push_back(result);
      }
      if (auto done = store_->complete(results_); !done) {
        return fail("sqlite: complete: " + done.error().message);
      }
    }
    if (round.claim > 0) {
      auto due = store_->fetch_due(kDestination, storage::now_millis(), round.claim);
      if (!due) return fail("sqlite: fetch: " + due.error().message);
      for (const auto& delivery : due.value().due) {
        out.claimed.push_back(delivery.id);
        out.body_bytes += delivery.body.size();
      }
    }
    return out;
  }

  std::unique_ptr<storage::Store> store_;
  std::vector<storage::AttemptResult> results_;
};

}  // namespace

Result<std::unique_ptr<StoreEngine>> open_sqlite_engine(const std::string& dir) {
  auto store = storage::open_sqlite_store({.path = dir + "/queue.db"});
  if (!store) return fail("sqlite: " + store.error().message);
  return std::unique_ptr<StoreEngine>(std::make_unique<SqliteEngine>(std::move(store.value())));
}

}  // namespace ocirelay::bench
