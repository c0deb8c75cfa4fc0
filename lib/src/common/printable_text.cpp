#include "ocirelay/common/printable_text.hpp"

#include <cstdint>
#include <cstring>

namespace ocirelay {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the valid UTF-8 sequence at the start of `s` (not empty),
// or 0 when it does not start with one (RFC 3629, section 4). NUL counts as
// a sequence of one.
std::size_t utf8_sequence_length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto continuation = [&](std::size_t i, unsigned char low = 0x80,
                                unsigned char high = 0xBF) {
    return i < s.size() && byte(i) >= low && byte(i) <= high;
  };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead == 0xE0) return continuation(1, 0xA0) && continuation(2) ? 3 : 0;
  if (lead == 0xED) return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0;
  if (lead >= 0xE1 && lead <= 0xEF) return continuation(1) && continuation(2) ? 3 : 0;
  if (lead == 0xF0) return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0;
  if (lead >= 0xF1 && lead <= 0xF3) {
    return continuation(1) && continuation(2) && continuation(3) ? 4 : 0;
  }
  if (lead == 0xF4) {
    return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0;
  }
  return 0;
}

// As utf8_sequence_length(), NUL refused: PostgreSQL's text takes none.
std::size_t sequence_length(std::string_view s) {
  return s.front() == '\0' ? 0 : utf8_sequence_length(s);
}

}  // namespace

bool is_utf8(std::string_view text) {
  while (!text.empty()) {
    // Eight bytes at a time while they are all ASCII (most of an event).
    std::uint64_t word = 0;
    if (text.size() >= sizeof word) {
      std::memcpy(&word, text.data(), sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        text.remove_prefix(sizeof word);
        continue;
      }
    }
    const std::size_t n = utf8_sequence_length(text);
    if (n == 0) return false;
    text.remove_prefix(n);
  }
  return true;
}

std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t n = sequence_length(text);
    if (n == 0) {
      out += kReplacement;
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

std::string printable_text(std::string_view text, std::size_t limit) {
  std::string out;
  while (!text.empty()) {
    std::size_t n = sequence_length(text);
    std::string_view piece = n == 0 ? kReplacement : text.substr(0, n);
    if (n == 0) n = 1;
    if (out.size() + piece.size() > limit) break;
    const auto first = static_cast<unsigned char>(piece.front());
    if (first < 0x20 || first == 0x7f) {
      out += ' ';
    } else {
      out.append(piece);
    }
    text.remove_prefix(n);
  }
  if (!text.empty()) out += "...";
  return out;
}

}  // namespace ocirelay
