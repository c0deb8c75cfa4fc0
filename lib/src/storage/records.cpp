#include "ocirelay/storage/records.hpp"

#include <chrono>

namespace ocirelay::storage {

Millis now_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string dedupe_key(std::string_view event_time, std::string_view event_id) {
  std::string key;
  key.reserve(event_time.size() + event_id.size() + 2);
  key += kDedupeKeyMark;
  key += event_time;
  key += kDedupeKeyMark;
  key += event_id;
  return key;
}

}  // namespace ocirelay::storage
