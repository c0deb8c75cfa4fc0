// The SQL of SqliteStore's cached statements (schema version 3; the tables and
// indexes are described in sqlite_schema.cpp). Shared with the tests, which
// check with EXPLAIN QUERY PLAN that each one is an index lookup.
#pragma once

namespace ocirelay::storage {

// ?1 the dedupe key (storage::dedupe_key), not the bare eventID.
inline constexpr const char* kSqlSeenInsert =
    "INSERT OR IGNORE INTO seen (event_id, first_seen_at) VALUES (?1, ?2)";

// A row keyed by a bare eventID, as builds before the dedupe key wrote them,
// if any: every key starts with U+001F, every bare ID with a later
// character. One step of the primary key's index.
inline constexpr const char* kSqlHasBareIds = "SELECT 1 FROM seen WHERE event_id >= ' ' LIMIT 1";
// ?1 a bare eventID: a row if it is one of those rows.
inline constexpr const char* kSqlBareIdSeen = "SELECT 1 FROM seen WHERE event_id = ?1";

inline constexpr const char* kSqlEventInsert =
    "INSERT INTO events (event_id, body, received_at) VALUES (?1, ?2, ?3)";

inline constexpr const char* kSqlDeliveryInsert =
    "INSERT INTO deliveries (event, destination, state, attempts, next_attempt_at, received_at,"
    " last_status, last_error, updated_at) VALUES (?1, ?2, 'pending', 0, ?3, ?3, 0, '', ?3)";

// ?1 destination, ?2 now, ?3 limit.
inline constexpr const char* kSqlDueSelect =
    "SELECT d.id, e.event_id, e.body, d.attempts, d.received_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'pending' AND d.destination = ?1 AND d.next_attempt_at <= ?2"
    " ORDER BY d.next_attempt_at, d.id LIMIT ?3";

inline constexpr const char* kSqlMarkInflight =
    "UPDATE deliveries SET state = 'inflight', updated_at = ?2 WHERE id = ?1";

// ?1 destination, ?2 now.
inline constexpr const char* kSqlNextDue =
    "SELECT min(next_attempt_at) FROM deliveries"
    " WHERE state = 'pending' AND destination = ?1 AND next_attempt_at > ?2";

// The results of attempts read the row first and then change it, instead of
// using RETURNING: SQLite gathers RETURNING rows in a temporary table, built
// and dropped at every execution (about 13,000 instructions per delivered
// event). Both statements run in one write transaction, so the row read is
// the row changed.

// ?1 id: the row's event, destination and state (for the counts).
inline constexpr const char* kSqlDeliveryRow =
    "SELECT event, destination, state FROM deliveries WHERE id = ?1";

// Whatever the row's state (a result is final).
inline constexpr const char* kSqlDelivered = "DELETE FROM deliveries WHERE id = ?1";

inline constexpr const char* kSqlEventRelease =
    "DELETE FROM events WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event = ?1)";

// Retry and dead apply to a row still in flight only: a row released
// meanwhile (reload, shutdown) is pending again and gets a new attempt.
// The store reads the row with kSqlDeliveryRow first and applies these only
// to a row in flight; the condition is repeated so they can never touch
// another.
inline constexpr const char* kSqlRetry =
    "UPDATE deliveries SET state = 'pending', attempts = ?2, next_attempt_at = ?3,"
    " last_status = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?1 AND state = 'inflight'";

inline constexpr const char* kSqlReleaseOne =
    "UPDATE deliveries SET state = 'pending', updated_at = ?2 WHERE id = ?1 AND state = 'inflight'";

inline constexpr const char* kSqlDead =
    "UPDATE deliveries SET state = 'dead', attempts = ?2, last_status = ?3, last_error = ?4,"
    " updated_at = ?5 WHERE id = ?1 AND state = 'inflight'";

// Bulk releases (a reload, a shutdown) keep RETURNING: they run once per
// dispatcher, not once per event.
inline constexpr const char* kSqlReleaseInflight =
    "UPDATE deliveries SET state = 'pending', updated_at = ?1 WHERE state = 'inflight'"
    " RETURNING destination";

inline constexpr const char* kSqlReleaseInflightFor =
    "UPDATE deliveries SET state = 'pending', updated_at = ?1"
    " WHERE state = 'inflight' AND destination = ?2 RETURNING destination";

inline constexpr const char* kSqlPruneSeen = "DELETE FROM seen WHERE first_seen_at < ?1";

// A scan of the small table DeliveryCounts keeps (a few rows per destination).
inline constexpr const char* kSqlCountStates =
    "SELECT state, destination, n FROM delivery_counts WHERE n > 0";

// ?1 state, ?2 destination.
inline constexpr const char* kSqlOldestReceived =
    "SELECT min(received_at) FROM deliveries WHERE state = ?1 AND destination = ?2";

// ?1 limit.
inline constexpr const char* kSqlDeadList =
    "SELECT d.id, e.event_id, d.destination, d.attempts, d.last_status, d.last_error,"
    " d.received_at, d.updated_at"
    " FROM deliveries AS d JOIN events AS e ON e.id = d.event"
    " WHERE d.state = 'dead' ORDER BY d.id LIMIT ?1";

}  // namespace ocirelay::storage
