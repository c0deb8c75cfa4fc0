#include "storage/sqlite_wal_vfs.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>

namespace ocirelay::storage {

namespace {

constexpr const char* kVfsName = "ocirelay-wal";

// The most the default VFS ("unix") writes in one call: it masks a write's
// length to 17 bits. 31 frames of 4 KiB pages fit; a larger commit is written
// in pieces of up to this size (still one write(2) for some 60 of SQLite's).
constexpr std::size_t kMaxGathered = 0x1ffff;

// A WAL frame's header, written by SQLite as a call of its own before the
// frame's page. Bytes 4-7 hold, in a commit frame, the database's size in
// pages after the commit, and 0 in every other frame.
constexpr int kFrameHeaderSize = 24;

bool is_commit_header(const void* bytes, int amount) {
  if (amount != kFrameHeaderSize) {
    return false;
  }
  const auto* b = static_cast<const unsigned char*>(bytes);
  return (b[4] | b[5] | b[6] | b[7]) != 0;
}

// A WAL file opened through this VFS. The default VFS's own file object
// follows this one in the allocation SQLite makes (szOsFile bytes), at
// kInnerOffset.
struct WalFile {
  sqlite3_file base;  // base.pMethods == &kWalMethods once open
  sqlite3_file* inner = nullptr;
  bool gathering = false;
  sqlite3_int64 start = 0;       // file offset of data[0]
  std::size_t size = 0;          // bytes gathered
  std::unique_ptr<char[]> data;  // kMaxGathered bytes, allocated when first needed
  // Where the page of the commit frame whose header came last is written;
  // -1 when the last write was not such a header.
  sqlite3_int64 commit_page = -1;
  std::uint64_t sqlite_writes = 0;
  std::uint64_t file_writes = 0;
  std::uint64_t late_flushes = 0;   // bytes still gathered when a commit was published
  struct MainFile* main = nullptr;  // the database file it belongs to, if known
};

// A main database file opened through this VFS: the default VFS's file with
// every method passed on, so that it can write out its WAL file's gathered
// bytes before the WAL write lock is released (see main_shm_lock).
struct MainFile {
  sqlite3_file base;  // base.pMethods == &kMainMethods once open
  sqlite3_file* inner = nullptr;
  sqlite3_filename name = nullptr;  // as SQLite passed it: identifies the pager
  WalFile* wal = nullptr;
};

constexpr std::size_t kInnerOffset =
    ((sizeof(WalFile) > sizeof(MainFile) ? sizeof(WalFile) : sizeof(MainFile)) +
     alignof(std::max_align_t) - 1) &
    ~(alignof(std::max_align_t) - 1);

// Main database files open through this VFS, by the name pointer SQLite gave
// each (one per pager), so that a WAL file can find its own: SQLite keeps a
// pager's WAL file name in the same allocation, and
// sqlite3_filename_database() leads back from it to that pointer.
struct OpenFiles {
  std::mutex mutex;
  std::map<const char*, MainFile*> mains;
};

OpenFiles& open_files() {
  static OpenFiles files;
  return files;
}

sqlite3_vfs* inner_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

WalFile* wal(sqlite3_file* file) { return reinterpret_cast<WalFile*>(file); }

int write_through(WalFile* f, const void* bytes, int amount, sqlite3_int64 offset) {
  ++f->file_writes;
  return f->inner->pMethods->xWrite(f->inner, bytes, amount, offset);
}

// Writes out what was gathered. On an error the bytes are dropped, as a
// failed write(2) would have left them: SQLite fails the commit and writes
// its frames again in the next one.
int flush(WalFile* f) {
  if (f->size == 0) {
    return SQLITE_OK;
  }
  const int rc = write_through(f, f->data.get(), static_cast<int>(f->size), f->start);
  f->size = 0;
  return rc;
}

// Appends to the gathered bytes (the caller has made room); false when the
// buffer cannot be allocated.
bool gather(WalFile* f, const void* bytes, std::size_t amount, sqlite3_int64 offset) {
  if (!f->data) {
    f->data.reset(new (std::nothrow) char[kMaxGathered]);
    if (!f->data) {
      return false;
    }
  }
  if (f->size == 0) {
    f->start = offset;
  }
  std::memcpy(f->data.get() + f->size, bytes, amount);
  f->size += amount;
  return true;
}

int wal_close(sqlite3_file* file) {
  WalFile* f = wal(file);
  const int flushed = flush(f);
  if (f->main != nullptr) {
    const std::lock_guard lock(open_files().mutex);
    f->main->wal = nullptr;
  }
  const int rc = f->inner->pMethods != nullptr ? f->inner->pMethods->xClose(f->inner) : SQLITE_OK;
  f->~WalFile();
  file->pMethods = nullptr;
  return flushed != SQLITE_OK ? flushed : rc;
}

int wal_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  WalFile* f = wal(file);
  if (const int rc = flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return f->inner->pMethods->xRead(f->inner, out, amount, offset);
}

int wal_write(sqlite3_file* file, const void* bytes, int amount, sqlite3_int64 offset) {
  WalFile* f = wal(file);
  ++f->sqlite_writes;
  const auto n = static_cast<std::size_t>(amount);
  if (!f->gathering || amount <= 0) {
    f->commit_page = -1;
    if (const int rc = flush(f); rc != SQLITE_OK) {
      return rc;
    }
    return write_through(f, bytes, amount, offset);
  }
  // The page that completes a commit frame is the last write of a commit
  // without a sync: SQLite publishes the commit as soon as it returns.
  const bool ends_commit = offset == f->commit_page;
  const bool commit_header = is_commit_header(bytes, amount);
  f->commit_page = commit_header ? offset + kFrameHeaderSize : -1;
  const bool follows_on = offset == f->start + static_cast<sqlite3_int64>(f->size);
  if (f->size > 0 && (!follows_on || f->size + n > kMaxGathered)) {
    if (const int rc = flush(f); rc != SQLITE_OK) {
      return rc;
    }
  }
  // Nothing to join: a commit frame's header or page goes to the file at
  // once. A commit header that follows no gathered write may be one SQLite
  // rewrites (new checksums) after reading the frame back, the last write
  // before it publishes the commit, with no page after it.
  const bool alone = f->size == 0 && (commit_header || ends_commit);
  if (alone || n > kMaxGathered || !gather(f, bytes, n, offset)) {
    if (const int rc = flush(f); rc != SQLITE_OK) {
      return rc;
    }
    return write_through(f, bytes, amount, offset);
  }
  return ends_commit ? flush(f) : SQLITE_OK;
}

int wal_truncate(sqlite3_file* file, sqlite3_int64 size) {
  WalFile* f = wal(file);
  if (const int rc = flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return f->inner->pMethods->xTruncate(f->inner, size);
}

int wal_sync(sqlite3_file* file, int flags) {
  WalFile* f = wal(file);
  if (const int rc = flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return f->inner->pMethods->xSync(f->inner, flags);
}

int wal_file_size(sqlite3_file* file, sqlite3_int64* size) {
  WalFile* f = wal(file);
  if (const int rc = flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return f->inner->pMethods->xFileSize(f->inner, size);
}

int wal_lock(sqlite3_file* file, int level) {
  WalFile* f = wal(file);
  return f->inner->pMethods->xLock(f->inner, level);
}

int wal_unlock(sqlite3_file* file, int level) {
  WalFile* f = wal(file);
  return f->inner->pMethods->xUnlock(f->inner, level);
}

int wal_check_reserved_lock(sqlite3_file* file, int* out) {
  WalFile* f = wal(file);
  return f->inner->pMethods->xCheckReservedLock(f->inner, out);
}

int wal_file_control(sqlite3_file* file, int op, void* arg) {
  WalFile* f = wal(file);
  if (const int rc = flush(f); rc != SQLITE_OK) {
    return rc;
  }
  return f->inner->pMethods->xFileControl(f->inner, op, arg);
}

int wal_sector_size(sqlite3_file* file) {
  WalFile* f = wal(file);
  return f->inner->pMethods->xSectorSize(f->inner);
}

int wal_device_characteristics(sqlite3_file* file) {
  WalFile* f = wal(file);
  return f->inner->pMethods->xDeviceCharacteristics(f->inner);
}

// Version 1: SQLite maps shared memory and memory-maps pages through the main
// database file only, never through a WAL file.
constexpr sqlite3_io_methods kWalMethods = {
    1,
    wal_close,
    wal_read,
    wal_write,
    wal_truncate,
    wal_sync,
    wal_file_size,
    wal_lock,
    wal_unlock,
    wal_check_reserved_lock,
    wal_file_control,
    wal_sector_size,
    wal_device_characteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

MainFile* main_file(sqlite3_file* file) { return reinterpret_cast<MainFile*>(file); }

sqlite3_file* inner_of(sqlite3_file* file) { return main_file(file)->inner; }

int main_close(sqlite3_file* file) {
  MainFile* m = main_file(file);
  {
    const std::lock_guard lock(open_files().mutex);
    open_files().mains.erase(m->name);
    if (m->wal != nullptr) {
      m->wal->main = nullptr;
    }
  }
  const int rc = m->inner->pMethods->xClose(m->inner);
  m->~MainFile();
  file->pMethods = nullptr;
  return rc;
}

int main_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xRead(in, out, amount, offset);
}

int main_write(sqlite3_file* file, const void* bytes, int amount, sqlite3_int64 offset) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xWrite(in, bytes, amount, offset);
}

int main_truncate(sqlite3_file* file, sqlite3_int64 size) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xTruncate(in, size);
}

int main_sync(sqlite3_file* file, int flags) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xSync(in, flags);
}

int main_file_size(sqlite3_file* file, sqlite3_int64* size) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xFileSize(in, size);
}

int main_lock(sqlite3_file* file, int level) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xLock(in, level);
}

int main_unlock(sqlite3_file* file, int level) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xUnlock(in, level);
}

int main_check_reserved_lock(sqlite3_file* file, int* out) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xCheckReservedLock(in, out);
}

int main_file_control(sqlite3_file* file, int op, void* arg) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xFileControl(in, op, arg);
}

int main_sector_size(sqlite3_file* file) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xSectorSize(in);
}

int main_device_characteristics(sqlite3_file* file) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xDeviceCharacteristics(in);
}

int main_shm_map(sqlite3_file* file, int region, int size, int extend, void volatile** out) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xShmMap(in, region, size, extend, out);
}

// WAL_WRITE_LOCK, the first of the wal-index locks: held from the start of a
// write transaction to its end, commit or rollback.
constexpr int kWalWriteLock = 0;

int main_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  MainFile* m = main_file(file);
  if (flags == (SQLITE_SHM_UNLOCK | SQLITE_SHM_EXCLUSIVE) && offset <= kWalWriteLock &&
      offset + n > kWalWriteLock && m->wal != nullptr) {
    // The write transaction is over. A commit left nothing gathered (its
    // commit frame's page or its sync wrote it out); what is left belongs to
    // one that rolled back after spilling pages. It is written now, while
    // no other connection may write the WAL, as it would have been without
    // gathering; never later, when another connection may have committed
    // frames at the same offsets. An error here is of no consequence:
    // SQLite ignores frames past the last commit.
    (void)flush(m->wal);
  }
  return m->inner->pMethods->xShmLock(m->inner, offset, n, flags);
}

// SQLite calls the barrier between writing the two copies of the wal-index
// header, and a reader takes a header only when both copies agree: this is
// where a commit becomes visible. Every commit's writes have been written
// out by then (its sync or its commit frame's page did it), so nothing is
// gathered here; if something were, it goes to the file now, before the
// commit is visible, though a failure can no longer fail the commit. Counted,
// for the tests.
void main_shm_barrier(sqlite3_file* file) {
  MainFile* m = main_file(file);
  if (m->wal != nullptr && m->wal->size > 0) {
    ++m->wal->late_flushes;
    (void)flush(m->wal);
  }
  m->inner->pMethods->xShmBarrier(m->inner);
}

int main_shm_unmap(sqlite3_file* file, int delete_flag) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xShmUnmap(in, delete_flag);
}

int main_fetch(sqlite3_file* file, sqlite3_int64 offset, int amount, void** out) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xFetch(in, offset, amount, out);
}

int main_unfetch(sqlite3_file* file, sqlite3_int64 offset, void* page) {
  sqlite3_file* in = inner_of(file);
  return in->pMethods->xUnfetch(in, offset, page);
}

// Version 3, as the default VFS's own: shared memory and memory-mapped pages.
constexpr sqlite3_io_methods kMainMethods = {
    3,
    main_close,
    main_read,
    main_write,
    main_truncate,
    main_sync,
    main_file_size,
    main_lock,
    main_unlock,
    main_check_reserved_lock,
    main_file_control,
    main_sector_size,
    main_device_characteristics,
    main_shm_map,
    main_shm_lock,
    main_shm_barrier,
    main_shm_unmap,
    main_fetch,
    main_unfetch,
};

int vfs_open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags,
             int* out_flags) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  const bool is_wal = (flags & SQLITE_OPEN_WAL) != 0;
  const bool is_main = (flags & SQLITE_OPEN_MAIN_DB) != 0 && name != nullptr;
  if (!is_wal && !is_main) {
    // Anything else is the default VFS's own file, methods and all.
    return inner->xOpen(inner, name, file, flags, out_flags);
  }
  auto* inner_file = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kInnerOffset);
  const int rc = inner->xOpen(inner, name, inner_file, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (inner_file->pMethods != nullptr) {
      inner_file->pMethods->xClose(inner_file);
    }
    file->pMethods = nullptr;
    return rc;
  }
  const std::lock_guard lock(open_files().mutex);
  if (is_main) {
    MainFile* m = new (file) MainFile{};
    m->inner = inner_file;
    m->name = name;
    m->base.pMethods = &kMainMethods;
    open_files().mains[name] = m;
    return SQLITE_OK;
  }
  WalFile* f = new (file) WalFile{};
  f->inner = inner_file;
  f->base.pMethods = &kWalMethods;
  const auto it = open_files().mains.find(sqlite3_filename_database(name));
  if (it != open_files().mains.end()) {
    f->main = it->second;
    it->second->wal = f;
  }
  return SQLITE_OK;
}

int vfs_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xDelete(inner, name, sync_dir);
}

int vfs_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xAccess(inner, name, flags, out);
}

int vfs_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xFullPathname(inner, name, size, out);
}

void* vfs_dl_open(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xDlOpen(inner, name);
}

void vfs_dl_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  inner->xDlError(inner, size, out);
}

void (*vfs_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xDlSym(inner, handle, symbol);
}

void vfs_dl_close(sqlite3_vfs* vfs, void* handle) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  inner->xDlClose(inner, handle);
}

int vfs_randomness(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xRandomness(inner, size, out);
}

int vfs_sleep(sqlite3_vfs* vfs, int microseconds) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xSleep(inner, microseconds);
}

int vfs_current_time(sqlite3_vfs* vfs, double* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xCurrentTime(inner, out);
}

int vfs_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xGetLastError(inner, size, out);
}

int vfs_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xCurrentTimeInt64(inner, out);
}

int vfs_set_system_call(sqlite3_vfs* vfs, const char* name, sqlite3_syscall_ptr call) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xSetSystemCall(inner, name, call);
}

sqlite3_syscall_ptr vfs_get_system_call(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xGetSystemCall(inner, name);
}

const char* vfs_next_system_call(sqlite3_vfs* vfs, const char* name) {
  sqlite3_vfs* inner = inner_vfs(vfs);
  return inner->xNextSystemCall(inner, name);
}

// The registered VFS: built from the default one (which must offer version
// 3's methods, as "unix" does) and kept for the life of the process.
sqlite3_vfs* registered() {
  static sqlite3_vfs* const vfs = []() -> sqlite3_vfs* {
    if (sqlite3_initialize() != SQLITE_OK) {
      return nullptr;
    }
    sqlite3_vfs* inner = sqlite3_vfs_find(nullptr);
    if (inner == nullptr || inner->iVersion < 3) {
      return nullptr;
    }
    static sqlite3_vfs wrapper{};
    wrapper.iVersion = 3;
    wrapper.szOsFile = static_cast<int>(kInnerOffset) + inner->szOsFile;
    wrapper.mxPathname = inner->mxPathname;
    wrapper.zName = kVfsName;
    wrapper.pAppData = inner;
    wrapper.xOpen = vfs_open;
    wrapper.xDelete = vfs_delete;
    wrapper.xAccess = vfs_access;
    wrapper.xFullPathname = vfs_full_pathname;
    wrapper.xDlOpen = vfs_dl_open;
    wrapper.xDlError = vfs_dl_error;
    wrapper.xDlSym = vfs_dl_sym;
    wrapper.xDlClose = vfs_dl_close;
    wrapper.xRandomness = vfs_randomness;
    wrapper.xSleep = vfs_sleep;
    wrapper.xCurrentTime = vfs_current_time;
    wrapper.xGetLastError = vfs_get_last_error;
    wrapper.xCurrentTimeInt64 = vfs_current_time_int64;
    wrapper.xSetSystemCall = vfs_set_system_call;
    wrapper.xGetSystemCall = vfs_get_system_call;
    wrapper.xNextSystemCall = vfs_next_system_call;
    if (sqlite3_vfs_register(&wrapper, 0) != SQLITE_OK) {
      return nullptr;
    }
    return &wrapper;
  }();
  return vfs;
}

// `db`'s WAL file when it was opened through this VFS, else nullptr.
WalFile* wal_of(sqlite3* db) {
  if (db == nullptr) {
    return nullptr;
  }
  sqlite3_file* file = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &file) != SQLITE_OK ||
      file == nullptr || file->pMethods != &kWalMethods) {
    return nullptr;
  }
  return wal(file);
}

}  // namespace

const char* SqliteWalVfs::name() noexcept {
  sqlite3_vfs* vfs = registered();
  return vfs != nullptr ? vfs->zName : nullptr;
}

int SqliteWalVfs::set_gathering(sqlite3* db, bool on) noexcept {
  WalFile* f = wal_of(db);
  if (f == nullptr || f->main == nullptr) {
    return SQLITE_OK;  // not ours, or no way to write out before the unlock
  }
  f->gathering = on;
  return on ? SQLITE_OK : flush(f);
}

SqliteWalVfs::Counts SqliteWalVfs::counts(sqlite3* db) noexcept {
  const WalFile* f = wal_of(db);
  if (f == nullptr) {
    return {};
  }
  return Counts{f->sqlite_writes, f->file_writes, f->size, f->late_flushes, f->gathering};
}

}  // namespace ocirelay::storage
