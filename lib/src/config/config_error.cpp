#include "ocirelay/config/loader.hpp"

namespace ocirelay::config {

std::string ConfigError::to_string() const {
  std::string location = file;
  if (line > 0) {
    if (!location.empty()) {
      location += ':';
    }
    location += std::to_string(line);
    if (column > 0) {
      location += ':' + std::to_string(column);
    }
  }
  std::string out;
  if (!location.empty()) {
    out += location + ": ";
  }
  if (!path.empty()) {
    out += path + ": ";
  }
  out += message;
  return out;
}

}  // namespace ocirelay::config
