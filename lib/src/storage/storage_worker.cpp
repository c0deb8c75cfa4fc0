#include "ocirelay/storage/storage_worker.hpp"

#include <chrono>
#include <exception>
#include <utility>

#include <spdlog/logger.h>

namespace ocirelay::storage {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs a store call, turning an escaped exception (only std::bad_alloc is
// possible: stores return their errors) into a StoreError.
template <class Fn>
auto guarded(Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::exception& e) {
    return fail(StoreError{std::string("internal error: ") + e.what(), false});
  }
}

}  // namespace

StorageWorker::StorageWorker(std::unique_ptr<Store> store, std::shared_ptr<spdlog::logger> log,
                             metrics::CommitObserver* observer)
    : store_(std::move(store)), log_(std::move(log)), observer_(observer) {
  thread_ = std::thread([this] { run(); });
}

StorageWorker::~StorageWorker() { stop(); }

void StorageWorker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  // From the storage thread itself (a call that stops its worker) there is
  // nothing to wait for: the loop ends once the queue is empty.
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) {
    thread_.join();
  }
}

void StorageWorker::submit(Op op) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(op));
      cv_.notify_one();
      return;
    }
  }
  // Stopped: complete at once, still through the handler's executor.
  std::visit(
      [](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, CallOp>) {
          o.abandon();
        } else {
          o.done(fail(stopped_error()));
        }
      },
      op);
}

void StorageWorker::run() {
  std::vector<Op> ops;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping, and everything submitted before is done
      }
      ops.reserve(queue_.size());
      for (Op& op : queue_) {
        ops.push_back(std::move(op));
      }
      queue_.clear();
    }
    process(ops);
    ops.clear();
  }
}

void StorageWorker::process(std::vector<Op>& ops) {
  std::vector<NewEvent> events;
  std::vector<std::function<void(StoreResult<InsertOutcome>)>> inserted;
  std::vector<AttemptResult> results;
  std::vector<std::function<void(StoreResult<Unit>)>> completed;
  std::vector<CallOp*> calls;
  for (Op& op : ops) {
    if (auto* insert = std::get_if<InsertOp>(&op)) {
      events.push_back(std::move(insert->event));
      inserted.push_back(std::move(insert->done));
    } else if (auto* complete = std::get_if<CompleteOp>(&op)) {
      results.push_back(std::move(complete->result));
      completed.push_back(std::move(complete->done));
    } else {
      calls.push_back(&std::get<CallOp>(op));
    }
  }

  if (!events.empty()) {
    const auto start = std::chrono::steady_clock::now();
    auto outcome = guarded([&] { return store_->insert_batch(events); });
    if (outcome && outcome->size() != events.size()) {
      outcome = fail(StoreError{"internal error: insert_batch returned a wrong count", false});
    }
    if (observer_ != nullptr) {
      observer_->on_commit(events.size(), seconds_since(start), outcome.ok());
    }
    if (outcome) {
      for (std::size_t i = 0; i < inserted.size(); ++i) {
        inserted[i]((*outcome)[i]);
      }
    } else {
      if (log_) {
        log_->error("storage: storing {} events failed: {}", events.size(),
                    outcome.error().message);
      }
      for (auto& done : inserted) {
        done(fail(outcome.error()));
      }
    }
  }

  if (!results.empty()) {
    const auto start = std::chrono::steady_clock::now();
    auto outcome = guarded([&] { return store_->complete(results); });
    if (observer_ != nullptr) {
      observer_->on_commit(results.size(), seconds_since(start), outcome.ok());
    }
    if (!outcome && log_) {
      log_->error("storage: recording {} delivery results failed: {}", results.size(),
                  outcome.error().message);
    }
    for (auto& done : completed) {
      done(outcome);
    }
  }

  for (CallOp* call : calls) {
    try {
      call->run(*store_);
    } catch (const std::exception& e) {
      if (log_) {
        log_->error("storage: call failed: {}", e.what());
      }
      call->abandon();
    }
  }
}

}  // namespace ocirelay::storage
