// A small tmpfs of a fixed size mounted on a fresh directory, for tests of a
// full (or read-only) disk. Mounting needs root (CAP_SYS_ADMIN); when it is
// not possible, mounted() is false and why_not() says why, so the test can
// skip with that message.
//
// Thread and lifetime contract: used from the test thread. The destructor
// unmounts (lazily, should a process still hold files there) and removes the
// directory.
#pragma once

#include <cstddef>
#include <string>

#include "support/temp_dir.hpp"

namespace ocirelay::test {

class SmallFilesystem {
 public:
  explicit SmallFilesystem(std::size_t bytes, bool read_only = false);
  ~SmallFilesystem();
  SmallFilesystem(const SmallFilesystem&) = delete;
  SmallFilesystem& operator=(const SmallFilesystem&) = delete;

  bool mounted() const noexcept { return mounted_; }
  const std::string& why_not() const noexcept { return why_not_; }
  // The mount point, and a name in it.
  std::string path() const;
  std::string file(const std::string& name) const;

  // Writes to `name` until the file system is full (ENOSPC); returns the
  // bytes written.
  std::size_t fill(const std::string& name) const;
  // Free bytes as statvfs sees them.
  std::size_t free_bytes() const;

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_not_;
};

}  // namespace ocirelay::test
