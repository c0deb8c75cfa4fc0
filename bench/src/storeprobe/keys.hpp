// Key encoding shared by the probe's key-value engines: big-endian integers,
// so that byte order is numeric order and a queue's keys sort by due time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ocirelay::bench {

inline void append_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((v >> shift) & 0xff));
  }
}

inline std::uint64_t read_be64(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8 && i < in.size(); ++i) {
    v = (v << 8) | static_cast<unsigned char>(in[i]);
  }
  return v;
}

// The due index's key: destination, NUL, due time, delivery id.
inline std::string due_key(std::string_view prefix, std::string_view destination,
                           std::uint64_t due_at, std::uint64_t id) {
  std::string key(prefix);
  key.append(destination);
  key.push_back('\0');
  append_be64(key, due_at);
  append_be64(key, id);
  return key;
}

}  // namespace ocirelay::bench
