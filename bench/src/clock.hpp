// Time stamps and percentiles shared by the benchmark tool's parts.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace ocirelay::bench {

// Nanoseconds on the monotonic clock; comparable across threads.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The p-th percentile (0..100) of the values, nearest rank; 0 when empty.
template <typename T>
T percentile(std::vector<T> values, double p) {
  if (values.empty()) {
    return T{};
  }
  std::sort(values.begin(), values.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size()));
  rank = std::min(rank, values.size() - 1);
  return values[rank];
}

}  // namespace ocirelay::bench
