// Bounds on a configuration document, shared by the YAML and JSON readers: a
// configuration is small; anything beyond these is refused before it can
// exhaust the stack or memory.
#pragma once

#include <cstddef>

namespace ocirelay::config::detail {

inline constexpr int kMaxConfigDepth = 64;
inline constexpr std::size_t kMaxConfigNodes = 100000;

}  // namespace ocirelay::config::detail
