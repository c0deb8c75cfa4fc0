// UnixSocketFile: the file-system side of a listening Unix domain socket.
// Before bind, prepare() creates the missing parent directories (0750) and
// clears the way: a stale socket left by a process that died is removed,
// while a socket someone still listens on, or any other kind of file, is an
// error. After bind, claim() sets the mode to exactly 0660 (whatever the
// umask; connecting is refused until listen, so nobody gets in meanwhile) and
// remembers which file it is. remove() deletes it again, only if the path
// still names that same socket, so a successor's socket is never removed.
//
// Thread contract: one thread (the server's). Blocking file-system calls,
// made at start and stop only. The destructor calls remove().
#pragma once

#include <sys/types.h>
#include <string>

#include "ocirelay/common/result.hpp"

namespace ocirelay::http {

class UnixSocketFile {
 public:
  UnixSocketFile() = default;
  ~UnixSocketFile();
  UnixSocketFile(const UnixSocketFile&) = delete;
  UnixSocketFile& operator=(const UnixSocketFile&) = delete;

  // Errors name the path and the cause.
  Result<Unit> prepare(const std::string& path);
  Result<Unit> claim();
  void remove() noexcept;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
  bool owned_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace ocirelay::http
