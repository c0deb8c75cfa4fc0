// Offline integrity check of an ocirelay SQLite storage file, behind
// `ocirelayd storage check`: SQLite's own integrity check, the schema against
// the version this build writes, the delivery counters kept by triggers
// against real counts, rows in states the relay never writes, and whether a
// write-ahead log (-wal) is present.
//
// Thread and lifetime contract: check_sqlite_storage() is a blocking free
// function, safe on any thread; it opens its own read-only connection and
// closes it before returning. It never writes the database or its -wal file
// and never creates the database: a missing file is reported, not made. (With
// a -wal present SQLite may rebuild the -shm index next to it, as any reader
// does; without one, the file is read with no lock and nothing is created.)
// Meant for a stopped relay; on a running one it checks a consistent
// snapshot. The report is a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ocirelay::storage {

// Exit codes of `ocirelayd storage check` (2 is a usage or configuration
// error, as for every ocirelayd command).
inline constexpr int kStorageCheckOk = 0;
inline constexpr int kStorageCheckProblems = 1;
inline constexpr int kStorageCheckCannotOpen = 3;

struct StorageCheckReport {
  enum class Outcome { ok, problems, cannot_open };

  std::string path;
  Outcome outcome = Outcome::ok;
  std::string cannot_open_reason;     // set with Outcome::cannot_open
  std::vector<std::string> problems;  // each one makes the outcome `problems`
  std::vector<std::string> notes;     // worth knowing, not wrong

  // What was found (meaningful unless cannot_open).
  std::int64_t file_bytes = 0;
  std::int64_t schema_version = 0;
  std::int64_t page_size = 0;
  std::int64_t page_count = 0;
  std::int64_t free_pages = 0;
  bool wal_present = false;
  std::int64_t wal_bytes = 0;
  std::int64_t events = 0;
  std::int64_t pending = 0;
  std::int64_t inflight = 0;
  std::int64_t dead = 0;
  std::int64_t seen = 0;
};

StorageCheckReport check_sqlite_storage(const std::string& path);

// A report for people: what was found, one note or problem per line, and the
// verdict on the last line.
std::string format_storage_check(const StorageCheckReport& report);

// kStorageCheckOk, kStorageCheckProblems or kStorageCheckCannotOpen.
int storage_check_exit_code(const StorageCheckReport& report) noexcept;

}  // namespace ocirelay::storage
