#include "storage/pg_store.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string_view>
#include <utility>

#include "ocirelay/common/printable_text.hpp"
#include "ocirelay/storage/pg_listener.hpp"
#include "storage/pg_schema.hpp"
#include "storage/pg_transaction.hpp"

namespace ocirelay::storage {

namespace {

constexpr int kTransactionTries = 3;

// --- SQL (schema version 3, pg_schema.cpp) ----------------------------------

// A whole batch in one statement, run on its own (autocommit): one round trip
// whatever the batch's size, and its commit waits for the WAL flush
// (synchronous_commit stays on). The data-modifying CTEs see one snapshot
// and share their RETURNING rows.
//
// fresh: $1 dedupe keys (text[], sorted, each once: storage::dedupe_key),
// $2 first seen at (bigint[]). Inserted in array order, so concurrent
// batches lock seen rows in the same order. RETURNING names the new keys;
// the others are duplicates (committed by this or another relay, or waited
// for until it committed). Events whose bare eventID is a row of seen, as
// relays before schema 3 wrote them, were taken out before (kSqlBareIdsSeen).
//
// input, ir, e, er, d: the events that have destinations, of which those in
// `fresh` are stored with their deliveries. $3 their keys and $14 their bare
// eventIDs (text[]), $4 every body end to end (bytea, binary), $5 each
// body's offset in $4 and $6 its length (a bytea parameter is below 1 GiB:
// these fit an int), $7 received_at (bigint[]); $8 each delivery's event
// (index into $3, from 1), $9 its destination (text[]). Rows are inserted in
// input order, so ids keep the order of acceptance, and the k-th event row
// inserted is the k-th fresh input (ir and er: two events of one batch may
// share a bare eventID, with different times).
//
// wake: when $12 (bool) is true, NOTIFY on channel $10, sent at commit, its
// payload the destinations of the stored deliveries and those of $13
// (text[]: owed by earlier batches stored without a notification), one a
// line (empty, meaning every destination, past $11 bytes); none when there
// are none. It is a CTE the final SELECT joins, so that it runs (an
// unreferenced plain SELECT CTE would not).
//
// The only statement run prepared (exec_prepared): parsing and planning it
// was about a quarter of the database's CPU per accepted event. Its plan
// does not depend on the tables' contents (arrays in, index lookups for the
// conflicts), so the generic plan PostgreSQL settles on is as good as a
// custom one. The claim and result statements are planned at each run: with
// generic plans cached while the queue was small, the end-to-end rate fell
// from about 1,900 to 500-1,000 deliveries/s.
constexpr const char* kSqlAccept =
    "WITH fresh AS (INSERT INTO seen (event_id, first_seen_at)"
    " SELECT key, at FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS t(key, at, n)"
    " ORDER BY n ON CONFLICT DO NOTHING RETURNING event_id),"
    " input AS (SELECT * FROM unnest($3::text[], $14::text[], $5::bigint[], $6::bigint[],"
    " $7::bigint[]) WITH ORDINALITY AS t(key, event_id, off, len, received_at, n)"
    " WHERE t.key IN (SELECT fresh.event_id FROM fresh)),"
    " ir AS (SELECT n, received_at, row_number() OVER (ORDER BY n) AS k FROM input),"
    " e AS (INSERT INTO events (event_id, body, received_at)"
    " SELECT event_id, substring($4::bytea FROM (off + 1)::int FOR len::int), received_at"
    " FROM input ORDER BY n RETURNING id),"
    " er AS (SELECT id, row_number() OVER (ORDER BY id) AS k FROM e),"
    " d AS (INSERT INTO deliveries (event, destination, state, attempts, next_attempt_at,"
    " received_at, updated_at)"
    " SELECT er.id, x.destination, 'pending', 0, i.received_at, i.received_at, i.received_at"
    " FROM unnest($8::bigint[], $9::text[]) WITH ORDINALITY AS x(event, destination, n)"
    " JOIN ir AS i ON i.n = x.event JOIN er ON er.k = i.k ORDER BY x.n"
    " RETURNING destination),"
    " wake AS (SELECT pg_notify($10, CASE WHEN octet_length(p) > $11::int THEN '' ELSE p END)"
    " FROM (SELECT string_agg(DISTINCT destination, E'\\n' ORDER BY destination) AS p"
    " FROM (SELECT destination FROM d UNION ALL SELECT unnest($13::text[])) AS named) AS stored"
    " WHERE $12::bool AND p IS NOT NULL)"
    " SELECT fresh.event_id FROM fresh LEFT JOIN wake ON true";

// $1 destination, $2 now, $3 limit, $4 node_id, $5 lease end. Due pending
// rows and claims whose lease ran out, oldest first; rows another relay is
// claiming at this moment are skipped, not waited for. The rows claimed
// share one new claim token (the CTE `token` is evaluated once).
//
// The two kinds are looked up apart, each through its own partial index
// (pending rows in due order; lapsed claims, few, sorted), and merged: one
// scan with `(pending AND ...) OR (inflight AND ...)` read and sorted every
// due row of the destination on each call (18 ms for a 20,000-event
// backlog, against 0.7 ms). A row locked by `pend` or `lapsed` that the
// final LIMIT leaves out stays unclaimed, and is skipped by other relays
// only until this statement's transaction ends.
constexpr const char* kSqlClaim =
    "WITH pend AS ("
    " SELECT id, next_attempt_at FROM deliveries"
    " WHERE destination = $1 AND state = 'pending' AND next_attempt_at <= $2"
    " ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),"
    " lapsed AS ("
    " SELECT id, next_attempt_at FROM deliveries"
    " WHERE destination = $1 AND state = 'inflight' AND lease_until <= $2"
    " ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED),"
    " due AS (SELECT id FROM (SELECT * FROM pend UNION ALL SELECT * FROM lapsed) AS u"
    " ORDER BY next_attempt_at, id LIMIT $3),"
    " token AS (SELECT nextval('delivery_claims') AS claim)"
    " UPDATE deliveries AS d SET state = 'inflight', claimed_by = $4, lease_until = $5,"
    " claim = token.claim, updated_at = $2"
    " FROM due, token, events AS e WHERE d.id = due.id AND e.id = d.event"
    " RETURNING d.id, e.event_id, e.body, d.attempts, d.received_at, d.next_attempt_at,"
    " d.claim";

// $1 destination, $2 now, $3 node_id: when something not yet due will be: a
// pending row's next attempt, or the end of another relay's claim.
constexpr const char* kSqlNextDue =
    "SELECT least("
    "(SELECT min(next_attempt_at) FROM deliveries"
    " WHERE state = 'pending' AND destination = $1 AND next_attempt_at > $2),"
    "(SELECT min(lease_until) FROM deliveries"
    " WHERE state = 'inflight' AND destination = $1 AND lease_until > $2"
    " AND claimed_by <> $3))";

// $1 delivery ids: locks their event rows in id order, so that two relays
// finishing two deliveries of one event take turns and the second sees the
// first's delete (the body goes with the last delivery), without deadlocks.
constexpr const char* kSqlLockEvents =
    "SELECT id FROM events WHERE id IN"
    " (SELECT event FROM deliveries WHERE id = ANY($1::bigint[])) ORDER BY id FOR UPDATE";

// $1 delivery ids. Whatever the rows' state and claim: the destination has
// them.
constexpr const char* kSqlDelivered =
    "DELETE FROM deliveries WHERE id = ANY($1::bigint[]) RETURNING event";

// $1 event ids: the bodies no delivery needs any more.
constexpr const char* kSqlEventRelease =
    "DELETE FROM events AS e WHERE e.id = ANY($1::bigint[])"
    " AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event = e.id)";

// Retry and dead apply to the claim the attempt was made under only: a row
// released meanwhile, or claimed again after the lease ran out (by another
// relay, or by this one under a new token), is left alone.
constexpr const char* kSqlRetry =
    "UPDATE deliveries SET state = 'pending', attempts = $2, next_attempt_at = $3,"
    " last_status = $4, last_error = $5, updated_at = $6, claimed_by = NULL,"
    " lease_until = NULL, claim = NULL"
    " WHERE id = $1 AND state = 'inflight' AND claimed_by = $7 AND claim = $8";

constexpr const char* kSqlDead =
    "UPDATE deliveries SET state = 'dead', attempts = $2, last_status = $3, last_error = $4,"
    " updated_at = $5, claimed_by = NULL, lease_until = NULL, claim = NULL"
    " WHERE id = $1 AND state = 'inflight' AND claimed_by = $6 AND claim = $7";

// $1 id, $2 now, $3 node_id, $4 claim: as it was, under the claim only.
constexpr const char* kSqlReleaseOne =
    "UPDATE deliveries SET state = 'pending', updated_at = $2, claimed_by = NULL,"
    " lease_until = NULL, claim = NULL"
    " WHERE id = $1 AND state = 'inflight' AND claimed_by = $3 AND claim = $4";

// $1 now, $2 node_id, $3 destination (NULL: every one).
constexpr const char* kSqlRelease =
    "UPDATE deliveries SET state = 'pending', claimed_by = NULL, lease_until = NULL,"
    " claim = NULL, updated_at = $1 WHERE state = 'inflight' AND claimed_by = $2"
    " AND ($3::text IS NULL OR destination = $3)";

// $1 lease end, $2 node_id, $3 the claim tokens the relay holds (bigint[]).
// Rows locked at this moment (a result being recorded on another of the
// relay's connections) are skipped, not waited for: never a deadlock with
// complete(), and a row whose result rolls back is renewed next time.
constexpr const char* kSqlRenew =
    "UPDATE deliveries SET lease_until = $1 WHERE id IN (SELECT id FROM deliveries"
    " WHERE state = 'inflight' AND claimed_by = $2 AND claim = ANY($3::bigint[])"
    " FOR UPDATE SKIP LOCKED)";

// $1 channel, $2 payload: sent when the transaction commits.
constexpr const char* kSqlNotify = "SELECT pg_notify($1, $2)";
// NOTIFY payloads must stay below 8000 bytes; past this, an empty payload
// (every destination) is sent instead.
constexpr std::size_t kMaxNotifyPayload = 4000;

constexpr auto kFirstConnectBackoff = std::chrono::milliseconds(250);
constexpr auto kMaxConnectBackoff = std::chrono::milliseconds(5000);

constexpr const char* kSqlPruneSeen = "DELETE FROM seen WHERE first_seen_at < $1";

// Whether seen may still hold bare eventIDs: a row first seen before the
// schema 3 migration (with $1 ms of margin for the relays' clocks against
// the database's). One step of seen_age.
constexpr const char* kSqlMayHaveBareIds =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM seen WHERE first_seen_at <"
    " (SELECT (extract(epoch FROM applied_at) * 1000)::bigint + $1 FROM ocirelay_schema"
    " WHERE version = $2)) THEN 1 ELSE 0 END::bigint";

// $1 bare eventIDs (text[]): those that are rows of seen. Planned at each
// run (not prepared), so that the plan follows the table's size.
constexpr const char* kSqlBareIdsSeen =
    "SELECT event_id FROM seen WHERE event_id = ANY($1::text[])";

// The margin of kSqlMayHaveBareIds: the relays' clocks must agree with the
// database's well within a lease (docs/high-availability.md); a clock off by
// more only keeps the lookup on for longer, or misses bare rows first seen
// within the margin of the migration.
constexpr Millis kBareIdClockMargin = 10 * 60 * 1000;

// Per destination and claiming relay (NULL: rows not in flight), in one
// statement so the counts are of one snapshot; in byte order, as SQLite's.
constexpr const char* kSqlStats =
    "SELECT destination, claimed_by,"
    " count(*) FILTER (WHERE state = 'pending'),"
    " count(*) FILTER (WHERE state = 'inflight'),"
    " count(*) FILTER (WHERE state = 'dead'),"
    " min(received_at) FILTER (WHERE state <> 'dead')"
    " FROM deliveries GROUP BY destination, claimed_by"
    " ORDER BY destination COLLATE \"C\", claimed_by COLLATE \"C\"";

constexpr const char* kSqlDeadList =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " d.received_at, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'dead' ORDER BY d.id LIMIT $1";

std::int64_t clamp_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

bool retryable(const std::string& sqlstate) {
  return sqlstate == "40P01" || sqlstate == "40001";  // deadlock, serialization failure
}

// '{1,2,3}': a bigint[] parameter.
std::string id_array(const std::vector<std::int64_t>& ids) {
  std::string text = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) text += ',';
    text += std::to_string(ids[i]);
  }
  text += '}';
  return text;
}

// A text[] parameter: each element in double quotes, with `"` and `\`
// escaped by a backslash.
std::string text_array(const std::vector<std::string_view>& values) {
  std::size_t size = 2;
  for (const auto v : values) size += v.size() + 3;
  std::string text;
  text.reserve(size);
  text += '{';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ',';
    text += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') text += '\\';
      text += c;
    }
    text += '"';
  }
  text += '}';
  return text;
}

// A NOTIFY payload: the destinations, one a line; empty (every destination)
// when that would be too long.
std::string notify_payload(const std::vector<std::string>& destinations) {
  std::string payload;
  for (const std::string& d : destinations) {
    if (!payload.empty()) payload += '\n';
    payload += d;
  }
  if (payload.size() > kMaxNotifyPayload) payload.clear();
  return payload;
}

// A failure inside a transaction, with its SQLSTATE kept for the retry.
struct Failed {
  StoreError error;
  std::string sqlstate;
};

}  // namespace

Result<std::unique_ptr<Store>, StoreError> open_postgresql_store(const PostgresqlOptions& options) {
  auto store = PgStore::open(options);
  if (!store) {
    return fail(std::move(store).error());
  }
  return std::unique_ptr<Store>(std::move(store).value());
}

Result<std::unique_ptr<PgStore>, StoreError> PgStore::open(const PostgresqlOptions& options) {
  if (options.node_id.empty()) {
    return fail(StoreError{"postgresql: storage.postgresql.node_id is empty", false});
  }
  if (options.lease.count() <= 0) {
    return fail(StoreError{"postgresql: storage.postgresql.lease must be positive", false});
  }
  std::unique_ptr<PgStore> store(new PgStore(options));
  if (auto c = store->connected(); !c) {
    return fail(std::move(c).error());
  }
  if (auto migrated = migrate_pg_schema(store->db_, options.node_id); !migrated) {
    return fail(std::move(migrated).error());
  }
  if (auto checked = store->check_bare_ids(); !checked) {
    return fail(std::move(checked).error());
  }
  return store;
}

StoreResult<Unit> PgStore::connected() {
  if (!db_.broken()) return Unit{};
  const auto now = std::chrono::steady_clock::now();
  if (unreachable_ && now < next_connect_) {
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_connect_ - now).count();
    return fail(StoreError{
        *unreachable_ + " (next connection attempt in " + std::to_string(wait) + " ms)", false});
  }
  PgConnectOptions connect;
  connect.url = options_.url;
  connect.ca_file = options_.ca_file;
  connect.connect_timeout = options_.connect_timeout;
  connect.application_name = "ocirelay " + options_.node_id;
  auto connection = PgConnection::connect(connect);
  if (!connection) {
    unreachable_ = connection.error().message;
    connect_backoff_ = std::clamp(connect_backoff_ * 2, kFirstConnectBackoff, kMaxConnectBackoff);
    next_connect_ = std::chrono::steady_clock::now() + connect_backoff_;
    return fail(std::move(connection).error());
  }
  db_ = std::move(connection).value();
  unreachable_.reset();
  connect_backoff_ = std::chrono::milliseconds(0);
  return Unit{};
}

StoreError PgStore::failed(StoreError error) {
  if (db_.broken()) unreachable_ = error.message;
  return error;
}

StoreResult<Unit> PgStore::in_transaction(const char* context, bool durable,
                                          const std::function<std::optional<StoreError>()>& body) {
  for (int attempt = 1;; ++attempt) {
    if (auto c = connected(); !c) return fail(std::move(c).error());
    std::optional<Failed> failed;
    {
      PgTransaction transaction(db_);
      PgResult r = durable ? transaction.begin() : transaction.begin_async_commit();
      if (!r.ok()) {
        failed = Failed{PgConnection::error(r, context), r.sqlstate()};
      } else if (auto error = body()) {
        // The SQLSTATE is at the end of the message ("(SQLSTATE 40P01)").
        const auto at = error->message.rfind("(SQLSTATE ");
        failed = Failed{*error, at == std::string::npos ? "" : error->message.substr(at + 10, 5)};
      } else if (PgResult committed = transaction.commit(); !committed.ok()) {
        failed = Failed{PgConnection::error(committed, std::string(context) + ": commit"),
                        committed.sqlstate()};
      }
    }
    if (!failed) return Unit{};
    if (attempt >= kTransactionTries || !retryable(failed->sqlstate)) {
      return fail(this->failed(std::move(failed->error)));
    }
  }
}

StoreResult<std::vector<InsertOutcome>> PgStore::insert_batch(std::span<const NewEvent> events) {
  std::vector<InsertOutcome> outcomes(events.size(), InsertOutcome::duplicate);
  if (events.empty()) return outcomes;
  // Events an earlier build remembered by their bare eventID are duplicates;
  // looked for only while such rows may be left.
  std::set<std::string, std::less<>> bare_seen;
  if (has_bare_ids_) {
    if (auto c = connected(); !c) return fail(std::move(c).error());
    std::vector<std::string_view> all;
    all.reserve(events.size());
    for (const NewEvent& event : events) all.push_back(event.event_id);
    PgResult r = db_.exec(kSqlBareIdsSeen, PgParams{}.text(text_array(all)));
    if (!r.ok()) return fail(failed(PgConnection::error(r, "insert_batch: bare eventIDs")));
    for (int row = 0; row < r.rows(); ++row) bare_seen.insert(r.bytes(row, 0));
  }
  // Seen rows in key order, so concurrent batches lock them in the same
  // order; stable, so the first of a batch's repeats is the one queued (the
  // later ones are not sent: duplicates of it).
  std::vector<std::string> keys_of(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) keys_of[i] = dedupe_key(events[i]);
  std::vector<std::size_t> order(events.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return keys_of[a] < keys_of[b]; });
  std::vector<std::string_view> keys;
  std::vector<std::int64_t> seen_at;
  std::vector<bool> first(events.size(), false);
  for (const std::size_t i : order) {
    if (bare_seen.count(events[i].event_id) > 0) continue;
    if (!keys.empty() && keys.back() == keys_of[i]) continue;
    keys.push_back(keys_of[i]);
    seen_at.push_back(events[i].received_at);
    first[i] = true;
  }

  // The events to store if fresh, with their deliveries, in input order.
  std::vector<std::string_view> event_keys;
  std::vector<std::string_view> event_ids;
  std::string bodies;
  std::vector<std::int64_t> offsets;
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> received;
  std::vector<std::int64_t> delivery_event;
  std::vector<std::string_view> delivery_destination;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const NewEvent& event = events[i];
    if (!first[i] || event.destinations.empty()) continue;
    event_keys.push_back(keys_of[i]);
    event_ids.push_back(event.event_id);
    offsets.push_back(static_cast<std::int64_t>(bodies.size()));
    lengths.push_back(static_cast<std::int64_t>(event.body.size()));
    bodies += event.body;
    received.push_back(event.received_at);
    const auto& named = event.destinations;
    for (auto it = named.begin(); it != named.end(); ++it) {
      if (std::find(named.begin(), it, *it) != it) continue;  // named twice
      delivery_event.push_back(static_cast<std::int64_t>(event_ids.size()));
      delivery_destination.push_back(*it);
    }
  }
  PgParams params;  // built in place: a copy would copy every body
  params.text(text_array(keys))
      .text(id_array(seen_at))
      .text(text_array(event_keys))
      .bytes(std::move(bodies))
      .text(id_array(offsets))
      .text(id_array(lengths))
      .text(id_array(received))
      .text(id_array(delivery_event))
      .text(text_array(delivery_destination))
      .text(kPgNewEventsChannel)
      .int64(static_cast<std::int64_t>(kMaxNotifyPayload));
  // Notifications coalesced: at most one per notify_interval. The first
  // batch after a quiet interval notifies at once; one within the interval
  // leaves its destinations owed, named by the next notification (of a
  // batch, or of run_deferred() once the interval has passed).
  const auto now = std::chrono::steady_clock::now();
  const bool notify_now = now >= next_notify_;
  std::vector<std::string_view> owed;
  if (notify_now) owed.assign(owed_.begin(), owed_.end());
  params.text(notify_now ? "t" : "f").text(text_array(owed));
  params.text(text_array(event_ids));

  for (int attempt = 1;; ++attempt) {
    if (auto c = connected(); !c) return fail(std::move(c).error());
    PgResult r = db_.exec_prepared(kSqlAccept, params);
    if (!r.ok()) {
      if (attempt < kTransactionTries && retryable(r.sqlstate())) continue;
      return fail(failed(PgConnection::error(r, "insert_batch")));
    }
    std::vector<std::string> fresh;
    fresh.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) fresh.push_back(r.bytes(row, 0));
    std::sort(fresh.begin(), fresh.end());
    bool stored = false;  // a delivery was stored
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (first[i] && std::binary_search(fresh.begin(), fresh.end(), keys_of[i])) {
        outcomes[i] = InsertOutcome::queued;
        stored = stored || !events[i].destinations.empty();
        if (!notify_now) owed_.insert(events[i].destinations.begin(), events[i].destinations.end());
      }
    }
    if (notify_now && (stored || !owed_.empty())) {  // a notification went out
      owed_.clear();
      next_notify_ = now + options_.notify_interval;
    }
    return outcomes;
  }
}

std::optional<std::chrono::steady_clock::time_point> PgStore::deferred_until() const {
  if (owed_.empty()) return std::nullopt;
  return next_notify_;
}

void PgStore::run_deferred(bool now) {
  if (owed_.empty() || (!now && std::chrono::steady_clock::now() < next_notify_)) return;
  const std::vector<std::string> owed(owed_.begin(), owed_.end());
  // Dropped whatever happens: if it fails, the database is unreachable, and
  // the other relays look at the queue when their listener reconnects, or
  // at their next poll.
  owed_.clear();
  next_notify_ = std::chrono::steady_clock::now() + options_.notify_interval;
  // A notification only: no need to wait for its commit's flush.
  (void)in_transaction("notify", false, [&] { return notify(owed, "notify"); });
}

std::optional<StoreError> PgStore::notify(const std::vector<std::string>& destinations,
                                          const char* context) {
  if (destinations.empty()) return std::nullopt;
  PgResult r =
      db_.exec(kSqlNotify, PgParams{}.text(kPgNewEventsChannel).text(notify_payload(destinations)));
  if (!r.ok()) return PgConnection::error(r, context);
  return std::nullopt;
}

StoreResult<FetchResult> PgStore::fetch_due(const std::string& destination, Millis now,
                                            std::size_t limit) {
  FetchResult out;
  auto done = in_transaction("fetch_due", false, [&]() -> std::optional<StoreError> {
    out = FetchResult{};
    const Millis lease_until = now + options_.lease.count();
    PgResult claimed = db_.exec(kSqlClaim, PgParams{}
                                               .text(destination)
                                               .int64(now)
                                               .int64(clamp_limit(limit))
                                               .text(options_.node_id)
                                               .int64(lease_until));
    if (!claimed.ok()) return PgConnection::error(claimed, "fetch_due");
    std::vector<std::pair<Millis, Delivery>> rows;
    for (int row = 0; row < claimed.rows(); ++row) {
      Delivery delivery;
      delivery.id = claimed.int64(row, 0);
      delivery.event_id = claimed.bytes(row, 1);
      delivery.destination = destination;
      delivery.body = claimed.bytes(row, 2);
      delivery.attempts = static_cast<int>(claimed.int64(row, 3));
      delivery.received_at = claimed.int64(row, 4);
      delivery.claim = claimed.int64(row, 6);
      rows.emplace_back(claimed.int64(row, 5), std::move(delivery));
    }
    // RETURNING has no order: oldest first, as claimed.
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second.id < b.second.id;
    });
    for (auto& row : rows) out.due.push_back(std::move(row.second));
    // As many as asked for: the caller asks again at once, so when the next
    // one is due does not matter (and costs a round trip in a backlog).
    if (static_cast<std::int64_t>(out.due.size()) >= clamp_limit(limit)) return std::nullopt;
    PgResult next =
        db_.exec(kSqlNextDue, PgParams{}.text(destination).int64(now).text(options_.node_id));
    if (!next.ok() || next.rows() != 1) return PgConnection::error(next, "fetch_due");
    if (!next.is_null(0, 0)) out.next_due = next.int64(0, 0);
    return std::nullopt;
  });
  if (!done) return fail(std::move(done).error());
  return out;
}

StoreResult<Unit> PgStore::complete(std::span<const AttemptResult> results) {
  if (results.empty()) return Unit{};
  const Millis now = now_millis();
  return in_transaction("complete", false, [&] { return apply_all(results, now); });
}

std::optional<StoreError> PgStore::apply_all(std::span<const AttemptResult> results, Millis now) {
  std::vector<std::int64_t> delivered;
  for (const AttemptResult& result : results) {
    if (result.kind == AttemptResult::Kind::delivered) delivered.push_back(result.id);
  }
  if (!delivered.empty()) {
    // Three statements however many were delivered: lock their events, delete
    // the deliveries (those already gone are not returned), and delete the
    // events left without a delivery.
    const std::string ids = id_array(delivered);
    PgResult locked = db_.exec(kSqlLockEvents, PgParams{}.text(ids));
    if (!locked.ok()) return PgConnection::error(locked, "complete");
    PgResult removed = db_.exec(kSqlDelivered, PgParams{}.text(ids));
    if (!removed.ok()) return PgConnection::error(removed, "complete");
    if (removed.rows() > 0) {
      std::vector<std::int64_t> events;
      events.reserve(static_cast<std::size_t>(removed.rows()));
      for (int row = 0; row < removed.rows(); ++row) events.push_back(removed.int64(row, 0));
      std::sort(events.begin(), events.end());
      events.erase(std::unique(events.begin(), events.end()), events.end());
      PgResult released = db_.exec(kSqlEventRelease, PgParams{}.text(id_array(events)));
      if (!released.ok()) return PgConnection::error(released, "complete");
    }
  }
  for (const AttemptResult& result : results) {
    switch (result.kind) {
      case AttemptResult::Kind::delivered:
        break;  // above
      case AttemptResult::Kind::retry: {
        PgResult r = db_.exec(kSqlRetry, PgParams{}
                                             .int64(result.id)
                                             .int64(result.attempts)
                                             .int64(result.next_attempt_at)
                                             .int64(result.last_status)
                                             .text(valid_utf8(result.last_error))
                                             .int64(now)
                                             .text(options_.node_id)
                                             .int64(result.claim));
        if (!r.ok()) return PgConnection::error(r, "complete");
        break;
      }
      case AttemptResult::Kind::released: {
        PgResult r = db_.exec(
            kSqlReleaseOne,
            PgParams{}.int64(result.id).int64(now).text(options_.node_id).int64(result.claim));
        if (!r.ok()) return PgConnection::error(r, "complete");
        break;
      }
      case AttemptResult::Kind::dead: {
        PgResult r = db_.exec(kSqlDead, PgParams{}
                                            .int64(result.id)
                                            .int64(result.attempts)
                                            .int64(result.last_status)
                                            .text(valid_utf8(result.last_error))
                                            .int64(now)
                                            .text(options_.node_id)
                                            .int64(result.claim));
        if (!r.ok()) return PgConnection::error(r, "complete");
        break;
      }
    }
  }
  return std::nullopt;
}

StoreResult<std::int64_t> PgStore::release_inflight() { return release(nullptr); }

StoreResult<std::int64_t> PgStore::release_inflight(const std::string& destination) {
  return release(&destination);
}

StoreResult<std::int64_t> PgStore::release(const std::string* destination) {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  PgParams params;
  params.int64(now_millis()).text(options_.node_id);
  if (destination != nullptr) {
    params.text(*destination);
  } else {
    params.null();
  }
  PgResult r = db_.exec(kSqlRelease, params);
  if (!r.ok()) return fail(failed(PgConnection::error(r, "release_inflight")));
  return r.changed();
}

StoreResult<std::int64_t> PgStore::renew_claims(Millis now, std::span<const std::int64_t> claims) {
  if (claims.empty()) return std::int64_t{0};
  if (auto c = connected(); !c) return fail(std::move(c).error());
  PgResult r = db_.exec(kSqlRenew, PgParams{}
                                       .int64(now + options_.lease.count())
                                       .text(options_.node_id)
                                       .text(id_array({claims.begin(), claims.end()})));
  if (!r.ok()) return fail(failed(PgConnection::error(r, "renew_claims")));
  return r.changed();
}

StoreResult<std::int64_t> PgStore::prune_dedupe(Millis cutoff) {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  PgResult r = db_.exec(kSqlPruneSeen, PgParams{}.int64(cutoff));
  if (!r.ok()) return fail(failed(PgConnection::error(r, "prune_dedupe")));
  const std::int64_t pruned = r.changed();
  if (has_bare_ids_ && pruned > 0) {
    if (auto checked = check_bare_ids(); !checked) return fail(std::move(checked).error());
  }
  return pruned;
}

StoreResult<Unit> PgStore::check_bare_ids() {
  PgResult r =
      db_.exec(kSqlMayHaveBareIds, PgParams{}.int64(kBareIdClockMargin).int64(kPgDedupeKeyVersion));
  if (!r.ok() || r.rows() != 1) {
    return fail(failed(PgConnection::error(r, "reading the dedupe table")));
  }
  has_bare_ids_ = r.int64(0, 0) != 0;
  return Unit{};
}

StoreResult<std::vector<DestinationStats>> PgStore::stats() {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  PgResult r = db_.exec(kSqlStats);
  if (!r.ok()) return fail(failed(PgConnection::error(r, "stats")));
  std::vector<DestinationStats> out;
  for (int row = 0; row < r.rows(); ++row) {
    std::string destination = r.bytes(row, 0);
    if (out.empty() || out.back().destination != destination) {
      out.emplace_back().destination = std::move(destination);
    }
    DestinationStats& s = out.back();
    s.pending += r.int64(row, 2);
    s.inflight += r.int64(row, 3);
    s.dead += r.int64(row, 4);
    if (!r.is_null(row, 5)) {
      s.oldest_received_at =
          std::min(r.int64(row, 5), s.oldest_received_at.value_or(r.int64(row, 5)));
    }
    if (!r.is_null(row, 1) && r.int64(row, 3) > 0) {
      s.inflight_by_node.push_back(NodeInflight{r.bytes(row, 1), r.int64(row, 3)});
    }
  }
  return out;
}

StoreResult<std::vector<DeadLetter>> PgStore::dead_letters(std::size_t limit) {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  PgResult r = db_.exec(kSqlDeadList, PgParams{}.int64(clamp_limit(limit)));
  if (!r.ok()) return fail(failed(PgConnection::error(r, "dead_letters")));
  std::vector<DeadLetter> out;
  for (int row = 0; row < r.rows(); ++row) out.push_back(PgDeadLetters::read(r, row));
  return out;
}

StoreResult<std::vector<DeadLetter>> PgStore::list_dead_letters(const DeadLetterQuery& query) {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  auto listed = dead_letters_.list(query);
  if (!listed) return fail(failed(std::move(listed).error()));
  return listed;
}

StoreResult<std::optional<DeadLetterDetail>> PgStore::dead_letter(std::int64_t id) {
  if (auto c = connected(); !c) return fail(std::move(c).error());
  auto found = dead_letters_.get(id);
  if (!found) return fail(failed(std::move(found).error()));
  return found;
}

StoreResult<ReplayOutcome> PgStore::replay_dead_letters(const DeadLetterSelection& selection,
                                                        Millis now) {
  ReplayOutcome outcome;
  auto done = in_transaction("replay_dead_letters", true, [&]() -> std::optional<StoreError> {
    outcome = ReplayOutcome{};
    if (auto e = dead_letters_.replay(selection, now, outcome)) return e;
    // Wakes the relays that deliver to them (and this one).
    return notify(outcome.destinations, "replay_dead_letters: notify");
  });
  if (!done) return fail(std::move(done).error());
  return outcome;
}

StoreResult<std::int64_t> PgStore::purge_dead_letters(const DeadLetterSelection& selection) {
  std::int64_t purged = 0;
  auto done = in_transaction("purge_dead_letters", true,
                             [&] { return dead_letters_.purge(selection, purged); });
  if (!done) return fail(std::move(done).error());
  return purged;
}

}  // namespace ocirelay::storage
