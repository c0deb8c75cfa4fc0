// The SQL of SqliteDeadLetters' cached statements (schema version 3; tables
// and indexes in sqlite_schema.cpp). Shared with the tests, which check with
// EXPLAIN QUERY PLAN that each one is an index lookup.
//
// Parameters, the same number for the same meaning in every statement (an
// unbound one is NULL): ?1 delivery id, ?2 now, ?3 destination, ?4 cutoff
// (updated_at before it), ?5 limit.
#pragma once

namespace ocirelay::storage {

// Every destination: the dead rows through deliveries_age's state prefix,
// then a top-N sort (dead letters are few next to the queue).
inline constexpr const char* kSqlDeadLettersAll =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " e.received_at, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'dead' ORDER BY d.received_at, d.id LIMIT ?5";

// One destination: deliveries_age (state, destination, received_at, rowid)
// gives the order; no sort.
inline constexpr const char* kSqlDeadLettersOfDestination =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " e.received_at, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'dead' AND d.destination = ?3 ORDER BY d.received_at, d.id LIMIT ?5";

inline constexpr const char* kSqlDeadLetterGet =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " e.received_at, d.updated_at, e.body"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.id = ?1 AND d.state = 'dead'";

// Replays put rows back at the head of the queue with a fresh attempt count
// (see Store::replay_dead_letters).
inline constexpr const char* kSqlReplayOne =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0,"
    " received_at = ?2, last_status = 0, last_error = '', updated_at = ?2"
    " WHERE id = ?1 AND state = 'dead' AND (?3 IS NULL OR destination = ?3) AND updated_at < ?4"
    " RETURNING destination";

inline constexpr const char* kSqlReplayAll =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0,"
    " received_at = ?2, last_status = 0, last_error = '', updated_at = ?2"
    " WHERE state = 'dead' AND updated_at < ?4 RETURNING destination";

inline constexpr const char* kSqlReplayOfDestination =
    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0,"
    " received_at = ?2, last_status = 0, last_error = '', updated_at = ?2"
    " WHERE state = 'dead' AND destination = ?3 AND updated_at < ?4 RETURNING destination";

inline constexpr const char* kSqlPurgeOne =
    "DELETE FROM deliveries"
    " WHERE id = ?1 AND state = 'dead' AND (?3 IS NULL OR destination = ?3) AND updated_at < ?4"
    " RETURNING event, destination";

inline constexpr const char* kSqlPurgeAll =
    "DELETE FROM deliveries WHERE state = 'dead' AND updated_at < ?4"
    " RETURNING event, destination";

inline constexpr const char* kSqlPurgeOfDestination =
    "DELETE FROM deliveries WHERE state = 'dead' AND destination = ?3 AND updated_at < ?4"
    " RETURNING event, destination";

// ?1 event row id: deletes the body once no delivery needs it.
inline constexpr const char* kSqlPurgeEventBody =
    "DELETE FROM events WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event = ?1)";

}  // namespace ocirelay::storage
