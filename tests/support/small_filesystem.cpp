#include "support/small_filesystem.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace ocirelay::test {

SmallFilesystem::SmallFilesystem(std::size_t bytes, bool read_only) {
  if (::geteuid() != 0) {
    why_not_ = "not running as root (mounting a tmpfs needs CAP_SYS_ADMIN)";
    return;
  }
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  const unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (read_only ? MS_RDONLY : 0);
  if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", flags, options.c_str()) != 0) {
    why_not_ = std::string("mount -t tmpfs failed: ") + std::strerror(errno);
    return;
  }
  mounted_ = true;
}

SmallFilesystem::~SmallFilesystem() {
  if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
}

std::string SmallFilesystem::path() const { return dir_.path().string(); }

std::string SmallFilesystem::file(const std::string& name) const { return dir_.file(name); }

std::size_t SmallFilesystem::fill(const std::string& name) const {
  const std::string p = file(name);
  const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot create " + p + ": " + std::strerror(errno));
  const std::vector<char> block(64 * 1024, 'f');
  std::size_t written = 0;
  std::size_t chunk = block.size();
  for (;;) {
    const ssize_t n = ::write(fd, block.data(), chunk);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOSPC && chunk > 1) {
      chunk /= 2;  // down to the last byte
      continue;
    }
    break;
  }
  ::fsync(fd);
  ::close(fd);
  return written;
}

std::size_t SmallFilesystem::free_bytes() const {
  struct statvfs st {};
  if (::statvfs(path().c_str(), &st) != 0) return 0;
  return static_cast<std::size_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace ocirelay::test
