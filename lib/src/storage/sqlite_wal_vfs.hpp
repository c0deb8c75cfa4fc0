// SqliteWalVfs: a SQLite VFS over the platform's default one ("unix") that
// can gather the writes SQLite makes to a WAL file and hand them to the
// kernel as one write(2) before the commit's fsync.
//
// Why: SQLite writes each WAL frame with two system calls (its 24-byte header,
// then the page), so a commit of 25 frames costs 50 pwrite(2)s before its
// fdatasync. Gathered, it costs one.
//
// When it is safe: gathering is off unless the owner turns it on for a
// connection, and the owner turns it on only while that connection commits
// with synchronous=FULL. Then every commit ends with an xSync of the WAL, and
// SQLite makes a commit visible to other connections (the wal-index header)
// only after that xSync has returned. The gathered bytes are written, in the
// order and at the offsets SQLite gave them, before that xSync, and before
// any read, truncation, size query, file control or close of the WAL file,
// before a write that does not follow on from them, and before the WAL write
// lock is released (for a transaction that rolled back after spilling pages;
// the VFS wraps the main database file to see that). So no reader, in this
// process or another, can see a commit whose frames are not in the file, and
// what is on disk when the fsync returns is what it would have been without
// gathering. A write error (ENOSPC, EFBIG, EIO) is returned from the xSync,
// which fails the commit as a failed write would have. docs/architecture.md
// ("Storage") gives the argument in full.
//
// Thread and lifetime contract: name() may be called from any thread; the VFS
// is registered once per process (not as the default) and never unregistered.
// Connections on any threads may open and close files through it (a mutex
// guards the list of open database files that WAL files are matched with).
// set_gathering() and counts() act on the WAL file of one connection and must
// be called on the thread that is using that connection, outside a
// transaction for set_gathering(false).
#pragma once

#include <cstdint>

struct sqlite3;

namespace ocirelay::storage {

class SqliteWalVfs {
 public:
  // The VFS's name for sqlite3_open_v2(), registered on the first call;
  // nullptr when there is no default VFS to wrap or registration failed
  // (connections then use the default VFS, without gathering). The first
  // call initialises SQLite, so process-wide sqlite3_config() settings must
  // come before it (SqliteConnection::open makes them first).
  static const char* name() noexcept;

  // Turns gathering on or off for `db`'s main database's WAL file. Returns
  // SQLITE_OK, or the error of writing out what was gathered (turning it off
  // writes it out). A connection whose WAL file is not open, or was not
  // opened through this VFS, is left as it is (SQLITE_OK).
  static int set_gathering(sqlite3* db, bool on) noexcept;

  // Write calls SQLite made to `db`'s WAL file, and write calls passed to the
  // file system, since the file was opened (both 0 when it is not ours).
  struct Counts {
    std::uint64_t sqlite_writes = 0;
    std::uint64_t file_writes = 0;
    std::uint64_t gathered_bytes = 0;  // held now, not yet written
    bool gathering = false;
  };
  static Counts counts(sqlite3* db) noexcept;
};

}  // namespace ocirelay::storage
