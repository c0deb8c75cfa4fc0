#include "storage/pg_dead_letters.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>

namespace ocirelay::storage {

namespace {

// Parameters, the same number for the same meaning in the statements that
// act on a selection (NULL: not part of it): $1 delivery id, $2 destination,
// $3 cutoff (updated_at before it).
constexpr const char* kSelected =
    " state = 'dead' AND ($1::bigint IS NULL OR id = $1)"
    " AND ($2::text IS NULL OR destination = $2) AND updated_at < $3";

// As SQLite's (sqlite_dead_letter_queries.hpp): the event's received_at is
// shown, the delivery's (its queue time, reset by a replay) gives the order.
// $1 destination (NULL: every one), $2 limit.
constexpr const char* kSqlList =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " e.received_at, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'dead' AND ($1::text IS NULL OR d.destination = $1)"
    " ORDER BY d.received_at, d.id LIMIT $2";

constexpr const char* kSqlGet =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " e.received_at, d.updated_at, e.body"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.id = $1 AND d.state = 'dead'";

// $4 now. Back at the head of the queue with a fresh attempt count (see
// Store::replay_dead_letters); a dead row has no claim.
const std::string kSqlReplay = std::string(
                                   "UPDATE deliveries SET state = 'pending', attempts = 0,"
                                   " next_attempt_at = 0, received_at = $4, last_status = 0,"
                                   " last_error = '', updated_at = $4 WHERE") +
                               kSelected + " RETURNING destination";

// The event rows of the selected dead letters, locked in id order.
const std::string kSqlLockEvents =
    std::string("SELECT id FROM events WHERE id IN (SELECT event FROM deliveries WHERE") +
    kSelected + ") ORDER BY id FOR UPDATE";

// $4 the locked event rows: a row dead-lettered since is left for later.
const std::string kSqlPurge = std::string("DELETE FROM deliveries WHERE") + kSelected +
                              " AND event = ANY($4::bigint[]) RETURNING event";

// $1 event rows: the bodies no delivery needs any more.
constexpr const char* kSqlPurgeBodies =
    "DELETE FROM events AS e WHERE e.id = ANY($1::bigint[])"
    " AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event = e.id)";

std::int64_t clamp_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

PgParams selection_params(const DeadLetterSelection& selection) {
  PgParams params;
  if (selection.id) {
    params.int64(*selection.id);
  } else {
    params.null();
  }
  if (selection.destination) {
    params.text(*selection.destination);
  } else {
    params.null();
  }
  params.int64(selection.updated_before.value_or(std::numeric_limits<Millis>::max()));
  return params;
}

// '{1,2,3}': a bigint[] parameter.
std::string id_array(const std::set<std::int64_t>& ids) {
  std::string text = "{";
  for (const std::int64_t id : ids) {
    if (text.size() > 1) text += ',';
    text += std::to_string(id);
  }
  text += '}';
  return text;
}

}  // namespace

DeadLetter PgDeadLetters::read(const PgResult& r, int row) {
  DeadLetter letter;
  letter.id = r.int64(row, 0);
  letter.event_id = r.bytes(row, 1);
  letter.destination = r.bytes(row, 2);
  letter.attempts = static_cast<int>(r.int64(row, 3));
  letter.last_status = static_cast<int>(r.int64(row, 4));
  letter.last_error = r.bytes(row, 5);
  letter.received_at = r.int64(row, 6);
  letter.updated_at = r.int64(row, 7);
  return letter;
}

StoreResult<std::vector<DeadLetter>> PgDeadLetters::list(const DeadLetterQuery& query) {
  PgParams params;
  if (query.destination) {
    params.text(*query.destination);
  } else {
    params.null();
  }
  params.int64(clamp_limit(query.limit));
  PgResult r = db_.exec(kSqlList, params);
  if (!r.ok()) return fail(PgConnection::error(r, "list_dead_letters"));
  std::vector<DeadLetter> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) out.push_back(read(r, row));
  return out;
}

StoreResult<std::optional<DeadLetterDetail>> PgDeadLetters::get(std::int64_t id) {
  PgResult r = db_.exec(kSqlGet, PgParams{}.int64(id));
  if (!r.ok()) return fail(PgConnection::error(r, "dead_letter"));
  if (r.rows() == 0) return std::optional<DeadLetterDetail>();
  DeadLetterDetail detail;
  detail.letter = read(r, 0);
  detail.body = r.bytes(0, 8);
  return std::optional<DeadLetterDetail>(std::move(detail));
}

std::optional<StoreError> PgDeadLetters::replay(const DeadLetterSelection& selection, Millis now,
                                                ReplayOutcome& outcome) {
  outcome = ReplayOutcome{};
  PgParams params = selection_params(selection);
  params.int64(now);
  PgResult r = db_.exec(kSqlReplay.c_str(), params);
  if (!r.ok()) return PgConnection::error(r, "replay_dead_letters");
  std::set<std::string> destinations;
  for (int row = 0; row < r.rows(); ++row) destinations.insert(r.bytes(row, 0));
  outcome.count = r.rows();
  outcome.destinations.assign(destinations.begin(), destinations.end());
  return std::nullopt;
}

std::optional<StoreError> PgDeadLetters::purge(const DeadLetterSelection& selection,
                                               std::int64_t& purged) {
  purged = 0;
  PgResult locked = db_.exec(kSqlLockEvents.c_str(), selection_params(selection));
  if (!locked.ok()) return PgConnection::error(locked, "purge_dead_letters");
  if (locked.rows() == 0) return std::nullopt;
  std::set<std::int64_t> events;
  for (int row = 0; row < locked.rows(); ++row) events.insert(locked.int64(row, 0));
  PgParams params = selection_params(selection);
  params.text(id_array(events));
  PgResult removed = db_.exec(kSqlPurge.c_str(), params);
  if (!removed.ok()) return PgConnection::error(removed, "purge_dead_letters");
  purged = removed.rows();
  PgResult bodies = db_.exec(kSqlPurgeBodies, PgParams{}.text(id_array(events)));
  if (!bodies.ok()) return PgConnection::error(bodies, "purge_dead_letters: event bodies");
  return std::nullopt;
}

}  // namespace ocirelay::storage
