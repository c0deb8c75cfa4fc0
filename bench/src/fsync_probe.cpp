#include "fsync_probe.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "clock.hpp"

namespace ocirelay::bench {

FsyncResult probe_fsync(const std::string& dir, double seconds, std::size_t block) {
  FsyncResult result;
  const std::string path = dir + "/ocirelay-bench-fsync.tmp";
  const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) {
    result.error = path + ": " + std::strerror(errno);
    return result;
  }
  const std::vector<char> data(block, 'x');
  const auto start = now_ns();
  const auto stop = start + static_cast<std::int64_t>(seconds * 1e9);
  std::uint64_t syncs = 0;
  std::int64_t now = start;
  while (now < stop) {
    if (::write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()) ||
        ::fdatasync(fd) != 0) {
      result.error = path + ": " + std::strerror(errno);
      break;
    }
    ++syncs;
    now = now_ns();
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (result.error.empty() && now > start) {
    result.syncs_per_second = static_cast<double>(syncs) * 1e9 / static_cast<double>(now - start);
  }
  return result;
}

}  // namespace ocirelay::bench
