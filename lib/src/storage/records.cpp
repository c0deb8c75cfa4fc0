#include "ocirelay/storage/records.hpp"

#include <chrono>

namespace ocirelay::storage {

Millis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace ocirelay::storage
