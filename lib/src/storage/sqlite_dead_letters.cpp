#include "storage/sqlite_dead_letters.hpp"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>

#include <sqlite3.h>

#include "storage/sqlite_dead_letter_queries.hpp"
#include "storage/sqlite_transaction.hpp"

namespace ocirelay::storage {

namespace {

std::int64_t clamp_limit(std::size_t limit) {
  constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  return static_cast<std::int64_t>(std::min(limit, kMax));
}

// The columns every dead-letter SELECT starts with.
DeadLetter read_dead_letter(const SqliteStatement& row) {
  DeadLetter letter;
  letter.id = row.column_int64(0);
  letter.event_id = row.column_text(1);
  letter.destination = row.column_text(2);
  letter.attempts = static_cast<int>(row.column_int64(3));
  letter.last_status = static_cast<int>(row.column_int64(4));
  letter.last_error = row.column_text(5);
  letter.received_at = row.column_int64(6);
  letter.updated_at = row.column_int64(7);
  return letter;
}

}  // namespace

int SqliteDeadLetters::prepare() {
  struct Entry {
    SqliteStatement* statement;
    const char* sql;
  };
  const Entry entries[] = {
      {&list_all_, kSqlDeadLettersAll},
      {&list_destination_, kSqlDeadLettersOfDestination},
      {&get_, kSqlDeadLetterGet},
      {&replay_one_, kSqlReplayOne},
      {&replay_destination_, kSqlReplayOfDestination},
      {&replay_all_, kSqlReplayAll},
      {&purge_one_, kSqlPurgeOne},
      {&purge_destination_, kSqlPurgeOfDestination},
      {&purge_all_, kSqlPurgeAll},
      {&purge_event_body_, kSqlPurgeEventBody},
  };
  for (const Entry& entry : entries) {
    const int rc = db_.prepare(*entry.statement, entry.sql);
    if (rc != SQLITE_OK) {
      return rc;
    }
  }
  return SQLITE_OK;
}

SqliteStatement& SqliteDeadLetters::pick(const DeadLetterSelection& selection, SqliteStatement& one,
                                         SqliteStatement& of_destination, SqliteStatement& all) {
  if (selection.id) {
    return one;
  }
  return selection.destination ? of_destination : all;
}

void SqliteDeadLetters::bind_selection(SqliteStatement& statement,
                                       const DeadLetterSelection& selection) {
  if (selection.id) {
    statement.bind(1, *selection.id);
  }
  if (selection.destination) {
    statement.bind_text(3, *selection.destination);
  }
  statement.bind(4, selection.updated_before.value_or(std::numeric_limits<Millis>::max()));
}

StoreResult<std::vector<DeadLetter>> SqliteDeadLetters::list(const DeadLetterQuery& query) {
  SqliteStatement& statement = query.destination ? list_destination_ : list_all_;
  SqliteStatement::Scope scope(statement);
  if (query.destination) {
    statement.bind_text(3, *query.destination);
  }
  statement.bind(5, clamp_limit(query.limit));
  std::vector<DeadLetter> out;
  int rc = SQLITE_OK;
  while ((rc = statement.step()) == SQLITE_ROW) {
    out.push_back(read_dead_letter(statement));
  }
  if (rc != SQLITE_DONE) {
    return fail(db_.error(rc, "list_dead_letters"));
  }
  return out;
}

StoreResult<std::optional<DeadLetterDetail>> SqliteDeadLetters::get(std::int64_t id) {
  SqliteStatement::Scope scope(get_);
  const int rc = get_.bind(1, id).step();
  if (rc == SQLITE_DONE) {
    return std::optional<DeadLetterDetail>();
  }
  if (rc != SQLITE_ROW) {
    return fail(db_.error(rc, "dead_letter"));
  }
  DeadLetterDetail detail;
  detail.letter = read_dead_letter(get_);
  detail.body = get_.column_blob(8);
  return std::optional<DeadLetterDetail>(std::move(detail));
}

StoreResult<ReplayOutcome> SqliteDeadLetters::replay(const DeadLetterSelection& selection,
                                                     Millis now) {
  SqliteTransaction transaction(db_);
  int rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "replay_dead_letters"));
  }
  ReplayOutcome outcome;
  std::set<std::string> destinations;
  counts_.clear();
  {
    SqliteStatement& statement = pick(selection, replay_one_, replay_destination_, replay_all_);
    SqliteStatement::Scope scope(statement);
    bind_selection(statement, selection);
    statement.bind(2, now);
    while ((rc = statement.step()) == SQLITE_ROW) {
      ++outcome.count;
      std::string destination = statement.column_text(0);
      counts_.move(destination, "dead", "pending", 1);
      destinations.insert(std::move(destination));
    }
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "replay_dead_letters"));  // the transaction rolls back
    }
  }
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "replay_dead_letters: counts"));
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "replay_dead_letters: commit"));
  }
  outcome.destinations.assign(destinations.begin(), destinations.end());
  return outcome;
}

StoreResult<std::int64_t> SqliteDeadLetters::purge(const DeadLetterSelection& selection) {
  SqliteTransaction transaction(db_);
  int rc = transaction.begin();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "purge_dead_letters"));
  }
  std::int64_t purged = 0;
  std::set<std::int64_t> events;  // whose bodies may now be orphans
  counts_.clear();
  {
    SqliteStatement& statement = pick(selection, purge_one_, purge_destination_, purge_all_);
    SqliteStatement::Scope scope(statement);
    bind_selection(statement, selection);
    while ((rc = statement.step()) == SQLITE_ROW) {
      ++purged;
      events.insert(statement.column_int64(0));
      counts_.add(statement.column_text(1), "dead", -1);
    }
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "purge_dead_letters"));  // the transaction rolls back
    }
  }
  for (const std::int64_t event : events) {
    SqliteStatement::Scope scope(purge_event_body_);
    rc = purge_event_body_.bind(1, event).step();
    if (rc != SQLITE_DONE) {
      return fail(db_.error(rc, "purge_dead_letters: event body"));
    }
  }
  rc = counts_.write();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "purge_dead_letters: counts"));
  }
  rc = transaction.commit();
  if (rc != SQLITE_OK) {
    return fail(db_.error(rc, "purge_dead_letters: commit"));
  }
  return purged;
}

}  // namespace ocirelay::storage
