// SqliteWalVfs: a SQLite VFS over the platform's default one ("unix") that
// can gather the writes SQLite makes to a WAL file and hand them to the
// kernel as one write(2) per commit.
//
// Why: SQLite writes each WAL frame with two system calls (its 24-byte header,
// then the page), so a commit of 25 frames costs 50 pwrite(2)s. Gathered, it
// costs one.
//
// When it is safe: gathering is off unless the owner turns it on for a
// connection. While it is on, the gathered bytes are written, in the order
// and at the offsets SQLite gave them, before SQLite can publish a commit to
// other connections (the wal-index header): once the page of a commit frame
// has been gathered (a frame header with a database size; the last write of
// a commit without a sync), and before any xSync, read, truncation, size
// query, file control or close of the WAL file, before a write that does not
// follow on from them, and before the WAL write lock is released (for a
// transaction that rolled back after spilling pages; the VFS wraps the main
// database file to see that). A commit frame's header that follows no
// gathered write (SQLite rewriting checksums after reading frames back) goes
// to the file at once. So no reader, in this process or another, can see a
// commit whose frames are not in the file, and what is on disk when a sync
// returns is what it would have been without gathering. A write error
// (ENOSPC, EFBIG, EIO) is returned from the write of the commit frame's page
// or from the xSync, which fails the commit as a failed write would have. As
// a last guard, the wal-index barrier that publishes a commit writes out
// anything still gathered (counted in Counts::late_flushes; none is
// expected). docs/architecture.md ("Storage") gives the argument in full.
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
    std::uint64_t late_flushes = 0;    // written out only when a commit was published
    bool gathering = false;
  };
  static Counts counts(sqlite3* db) noexcept;
};

}  // namespace ocirelay::storage
