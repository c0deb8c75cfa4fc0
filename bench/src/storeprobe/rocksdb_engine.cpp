// The round's work in RocksDB: every record in the default column family
// under a one-letter prefix, a round one WriteBatch written with sync.
//   e<id>        the event body (one destination, so one id serves both)
//   s<key>       dedupe: when it was first seen (storage::dedupe_key)
//   d<dest>\0<due><id>  a pending delivery, by due time
//   f<id>        a delivery in flight
// A claim moves d to f; a delivered result deletes e and f. Options are
// RocksDB's defaults (64 MiB memtable, leveled compaction, Snappy) with a
// Bloom filter for the dedupe lookups; closing flushes the memtable, but the
// compactions a longer run would pay are not counted. The claim scan
// starts after the last key it took, so it does not read back through the
// tombstones of earlier claims (a queue's known cost in an LSM tree).
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include "engine.hpp"
#include "keys.hpp"

namespace ocirelay::bench {

namespace {

constexpr std::string_view kDestination = "sink";

std::string key(char prefix, std::uint64_t id) {
  std::string k(1, prefix);
  append_be64(k, id);
  return k;
}

class RocksdbEngine final : public StoreEngine {
 public:
  explicit RocksdbEngine(std::unique_ptr<rocksdb::DB> db)
      : db_(std::move(db)), next_due_(due_key("d", kDestination, 0, 0)) {
    sync_.sync = true;
  }
  // The memtable is written out as a sorted file (its first step of the
  // compactions it owes), so that closing counts that much of the work.
  ~RocksdbEngine() override { db_->Flush(rocksdb::FlushOptions()).PermitUncheckedError(); }
  RocksdbEngine(const RocksdbEngine&) = delete;
  RocksdbEngine& operator=(const RocksdbEngine&) = delete;

  Result<ProbeRoundResult> run(const ProbeRound& round) override {
    ProbeRoundResult out;
    rocksdb::WriteBatch batch;
    for (const auto id : round.delivered) {
      batch.Delete(key('e', static_cast<std::uint64_t>(id)));
      batch.Delete(key('f', static_cast<std::uint64_t>(id)));
    }
    if (round.claim > 0) {
      if (auto claimed = claim(round.claim, batch, out); !claimed) return fail(claimed.error());
    }
    seen_in_round_.clear();
    for (const auto& event : round.events) {
      std::string seen_key = "s";  // appended: GCC 12 warns on "s" + std::string
      seen_key += ocirelay::storage::dedupe_key(event);
      if (!seen_in_round_.insert(seen_key).second) {
        ++out.duplicates;
        continue;
      }
      const auto found = db_->Get(read_, seen_key, &value_);
      if (found.ok()) {
        ++out.duplicates;
        continue;
      }
      if (!found.IsNotFound()) return fail("rocksdb: get: " + found.ToString());
      const auto id = ++last_id_;
      const auto at = static_cast<std::uint64_t>(event.received_at);
      std::string when;
      append_be64(when, at);
      batch.Put(seen_key, when);
      batch.Put(key('e', id), event.body);
      batch.Put(due_key("d", kDestination, at, id), kDestination);
    }
    const auto written = db_->Write(sync_, &batch);
    if (!written.ok()) return fail("rocksdb: write: " + written.ToString());
    return out;
  }

 private:
  Result<Unit> claim(std::size_t limit, rocksdb::WriteBatch& batch, ProbeRoundResult& out) {
    const std::string upper =
        due_key("d", kDestination, static_cast<std::uint64_t>(storage::now_millis()) + 1, 0);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options;
    options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(next_due_); it->Valid() && out.claimed.size() < limit; it->Next()) {
      const auto k = it->key();
      const auto id = read_be64(std::string_view(k.data() + k.size() - 8, 8));
      const auto found = db_->Get(read_, key('e', id), &value_);
      if (!found.ok()) {
        return fail("rocksdb: body of delivery " + std::to_string(id) + ": " + found.ToString());
      }
      batch.Delete(k);
      batch.Put(key('f', id), kDestination);
      out.claimed.push_back(static_cast<std::int64_t>(id));
      out.body_bytes += value_.size();
      next_due_.assign(k.data(), k.size());
      next_due_.push_back('\0');  // the next key after this one
    }
    if (!it->status().ok()) return fail("rocksdb: scan: " + it->status().ToString());
    return Unit{};
  }

  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions sync_;
  rocksdb::ReadOptions read_;
  std::string next_due_;
  std::uint64_t last_id_ = 0;
  std::string value_;
  std::unordered_set<std::string> seen_in_round_;
};

}  // namespace

Result<std::unique_ptr<StoreEngine>> open_rocksdb_engine(const std::string& dir) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  const auto opened = rocksdb::DB::Open(options, dir + "/rocksdb", &raw);
  if (!opened.ok()) return fail("rocksdb: open: " + opened.ToString());
  return std::unique_ptr<StoreEngine>(
      std::make_unique<RocksdbEngine>(std::unique_ptr<rocksdb::DB>(raw)));
}

}  // namespace ocirelay::bench
