#include "ocirelay/common/directories.hpp"

#include <cerrno>
#include <system_error>
#include <vector>

#include <sys/stat.h>

namespace ocirelay {

int make_private_directories(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = dir; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return ENOTDIR;
      }
      break;
    }
    if (errno != ENOENT) {
      return errno;
    }
    missing.push_back(p);
    if (p == p.parent_path()) {
      break;
    }
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0750) != 0) {
      if (errno != EEXIST) {
        return errno;
      }
    } else if (::chmod(it->c_str(), 0750) != 0) {  // exactly 0750, whatever the umask
      return errno;
    }
  }
  return 0;
}

std::string os_error_text(int error) { return std::system_category().message(error); }

}  // namespace ocirelay
