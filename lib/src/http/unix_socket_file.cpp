#include "http/unix_socket_file.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ocirelay/common/directories.hpp"

namespace ocirelay::http {

namespace {


// True when something accepts connections on the socket at `path`.
bool someone_listens(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());  // length checked by the caller
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

}  // namespace

UnixSocketFile::~UnixSocketFile() { remove(); }

Result<Unit> UnixSocketFile::prepare(const std::string& path) {
  path_ = path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail("Unix socket path \"" + path + "\" is empty or longer than " +
                std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) {
    if (const int error = make_private_directories(dir); error != 0) {
      return fail("cannot create directory " + dir.string() + " for " + path + ": " +
                  os_error_text(error));
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return Unit{};
    }
    return fail("cannot access " + path + ": " + os_error_text(errno));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(path + " exists and is not a socket; not replacing it");
  }
  if (someone_listens(path)) {
    return fail(path + " is in use: another process listens on it");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return fail("cannot remove the stale socket " + path + ": " + os_error_text(errno));
  }
  return Unit{};
}

Result<Unit> UnixSocketFile::claim() {
  if (::chmod(path_.c_str(), 0660) != 0) {
    return fail("cannot set mode 0660 on " + path_ + ": " + os_error_text(errno));
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) != 0) {
    return fail("cannot access " + path_ + ": " + os_error_text(errno));
  }
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  owned_ = true;
  return Unit{};
}

void UnixSocketFile::remove() noexcept {
  if (!owned_) {
    return;
  }
  owned_ = false;
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ &&
      st.st_ino == ino_) {
    ::unlink(path_.c_str());
  }
}

}  // namespace ocirelay::http
