// The round's work in LMDB: four named databases in one environment, a round
// one write transaction, committed with LMDB's default durability (the data
// pages synced, then the meta page).
//   events    id -> body (integer keys, appended)
//   seen      dedupe key (storage::dedupe_key) -> when it was first seen
//   due       dest\0<due><id> -> "" (pending deliveries by due time)
//   inflight  id -> dest
#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <lmdb.h>

#include "engine.hpp"
#include "keys.hpp"

namespace ocirelay::bench {

namespace {

constexpr std::string_view kDestination = "sink";
constexpr std::size_t kMapSize = std::size_t{16} << 30;  // address space, not disk

MDB_val val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
MDB_val val(std::uint64_t& id) { return MDB_val{sizeof id, &id}; }

std::string lmdb_error(std::string_view what, int rc) {
  return "lmdb: " + std::string(what) + ": " + mdb_strerror(rc);
}

class LmdbEngine final : public StoreEngine {
 public:
  LmdbEngine(MDB_env* env, MDB_dbi events, MDB_dbi seen, MDB_dbi due, MDB_dbi inflight)
      : env_(env), events_(events), seen_(seen), due_(due), inflight_(inflight) {}
  ~LmdbEngine() override { mdb_env_close(env_); }
  LmdbEngine(const LmdbEngine&) = delete;
  LmdbEngine& operator=(const LmdbEngine&) = delete;

  Result<ProbeRoundResult> run(const ProbeRound& round) override {
    MDB_txn* txn = nullptr;
    if (const int rc = mdb_txn_begin(env_, nullptr, 0, &txn); rc != 0) {
      return fail(lmdb_error("begin", rc));
    }
    auto out = run_parts(txn, round);
    if (!out) {
      mdb_txn_abort(txn);
      return out;
    }
    if (const int rc = mdb_txn_commit(txn); rc != 0) return fail(lmdb_error("commit", rc));
    return out;
  }

 private:
  Result<ProbeRoundResult> run_parts(MDB_txn* txn, const ProbeRound& round) {
    ProbeRoundResult out;
    for (const auto delivered : round.delivered) {
      auto id = static_cast<std::uint64_t>(delivered);
      MDB_val k = val(id);
      if (const int rc = mdb_del(txn, events_, &k, nullptr); rc != 0) {
        return fail(lmdb_error("delete event", rc));
      }
      if (const int rc = mdb_del(txn, inflight_, &k, nullptr); rc != 0) {
        return fail(lmdb_error("delete inflight", rc));
      }
    }
    if (round.claim > 0) {
      if (auto claimed = claim(txn, round.claim, out); !claimed) return fail(claimed.error());
    }
    seen_in_round_.clear();
    for (const auto& event : round.events) {
      const std::string dedupe = ocirelay::storage::dedupe_key(event);
      if (!seen_in_round_.insert(dedupe).second) {
        ++out.duplicates;
        continue;
      }
      MDB_val seen_key = val(dedupe);
      MDB_val found{};
      const int got = mdb_get(txn, seen_, &seen_key, &found);
      if (got == 0) {
        ++out.duplicates;
        continue;
      }
      if (got != MDB_NOTFOUND) return fail(lmdb_error("get seen", got));
      auto id = ++last_id_;
      auto at = static_cast<std::uint64_t>(event.received_at);
      MDB_val when = val(at);
      MDB_val id_key = val(id);
      MDB_val body = val(event.body);
      const std::string due = due_key("", kDestination, at, id);
      MDB_val due_k = val(due);
      MDB_val empty{0, nullptr};
      int rc = mdb_put(txn, seen_, &seen_key, &when, 0);
      if (rc == 0) rc = mdb_put(txn, events_, &id_key, &body, MDB_APPEND);
      if (rc == 0) rc = mdb_put(txn, due_, &due_k, &empty, 0);
      if (rc != 0) return fail(lmdb_error("put", rc));
    }
    return out;
  }

  Result<Unit> claim(MDB_txn* txn, std::size_t limit, ProbeRoundResult& out) {
    MDB_cursor* cursor = nullptr;
    if (const int rc = mdb_cursor_open(txn, due_, &cursor); rc != 0) {
      return fail(lmdb_error("cursor", rc));
    }
    std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)> closer(cursor, mdb_cursor_close);
    const std::string first = due_key("", kDestination, 0, 0);
    const std::string upper =
        due_key("", kDestination, static_cast<std::uint64_t>(storage::now_millis()) + 1, 0);
    MDB_val k = val(first);
    MDB_val v{};
    taken_.clear();
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && taken_.size() < limit) {
      const std::string_view key(static_cast<const char*>(k.mv_data), k.mv_size);
      if (key >= upper) break;
      taken_.emplace_back(key);
      rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return fail(lmdb_error("scan", rc));
    closer.reset();
    for (const auto& key : taken_) {
      auto id = read_be64(std::string_view(key).substr(key.size() - 8));
      MDB_val id_key = val(id);
      MDB_val body{};
      if (const int got = mdb_get(txn, events_, &id_key, &body); got != 0) {
        return fail(lmdb_error("body of a delivery", got));
      }
      out.body_bytes += body.mv_size;
      MDB_val due_k = val(key);
      MDB_val dest = val(kDestination);
      int put = mdb_del(txn, due_, &due_k, nullptr);
      if (put == 0) put = mdb_put(txn, inflight_, &id_key, &dest, 0);
      if (put != 0) return fail(lmdb_error("claim", put));
      out.claimed.push_back(static_cast<std::int64_t>(id));
    }
    return Unit{};
  }

  MDB_env* env_;
  MDB_dbi events_, seen_, due_, inflight_;
  std::uint64_t last_id_ = 0;
  std::unordered_set<std::string> seen_in_round_;
  std::vector<std::string> taken_;
};

}  // namespace

Result<std::unique_ptr<StoreEngine>> open_lmdb_engine(const std::string& dir) {
  MDB_env* env = nullptr;
  if (const int rc = mdb_env_create(&env); rc != 0) return fail(lmdb_error("create", rc));
  int rc = mdb_env_set_maxdbs(env, 4);
  if (rc == 0) rc = mdb_env_set_mapsize(env, kMapSize);
  if (rc == 0) rc = mdb_env_open(env, dir.c_str(), 0, 0640);
  if (rc != 0) {
    mdb_env_close(env);
    return fail(lmdb_error("open " + dir, rc));
  }
  MDB_txn* txn = nullptr;
  MDB_dbi dbi[4] = {};
  const char* names[4] = {"events", "seen", "due", "inflight"};
  const unsigned flags[4] = {MDB_CREATE | MDB_INTEGERKEY, MDB_CREATE, MDB_CREATE,
                             MDB_CREATE | MDB_INTEGERKEY};
  rc = mdb_txn_begin(env, nullptr, 0, &txn);
  for (int i = 0; rc == 0 && i < 4; ++i) rc = mdb_dbi_open(txn, names[i], flags[i], &dbi[i]);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn != nullptr) {
    mdb_txn_abort(txn);
  }
  if (rc != 0) {
    mdb_env_close(env);
    return fail(lmdb_error("open databases", rc));
  }
  return std::unique_ptr<StoreEngine>(
      std::make_unique<LmdbEngine>(env, dbi[0], dbi[1], dbi[2], dbi[3]));
}

}  // namespace ocirelay::bench
