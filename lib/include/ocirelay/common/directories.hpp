// Creating the directories the daemon owns (storage, admin socket, log file).
// Pure functions over the file system; no thread affinity.
#pragma once

#include <filesystem>
#include <string>

namespace ocirelay {

// Creates `dir` and its missing parents, each with mode exactly 0750
// whatever the umask. Existing directories are left as they are. Returns 0,
// or an errno value (ENOTDIR when a component is not a directory).
int make_private_directories(const std::filesystem::path& dir);

// strerror-like text for an errno value.
std::string os_error_text(int error);

}  // namespace ocirelay
