// The clocks a Dispatcher decides by: steady time for pauses and the rate
// limit, wall-clock time for what goes to storage (next attempt times, ages)
// and for Retry-After dates. Empty functions mean the real clocks; tests set
// both to a simulated time they advance.
//
// Thread and lifetime contract: a plain value; the functions are called on
// the dispatcher's executor and must stay callable while it lives.
#pragma once

#include <chrono>
#include <functional>

#include "ocirelay/storage/records.hpp"

namespace ocirelay::delivery {

struct DeliveryClock {
  std::function<std::chrono::steady_clock::time_point()> steady;
  std::function<std::chrono::system_clock::time_point()> system;

  std::chrono::steady_clock::time_point steady_now() const {
    return steady ? steady() : std::chrono::steady_clock::now();
  }
  std::chrono::system_clock::time_point system_now() const {
    return system ? system() : std::chrono::system_clock::now();
  }
  // system_now() as stored: milliseconds since the Unix epoch.
  storage::Millis millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(system_now().time_since_epoch())
        .count();
  }
};

}  // namespace ocirelay::delivery
