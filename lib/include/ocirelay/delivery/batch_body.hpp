// The request body of a batch: the shaped events, each byte for byte as it
// would be sent alone, comma-separated in a JSON array, inside the
// destination's envelope: {"<envelope>":[e1,e2,...]}, or the bare array
// [e1,e2,...] when the envelope is empty. Its size is known before an event
// is added, so that a batch never grows past `max_bytes`.
//
// Thread and lifetime contract: a plain value; not synchronised.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ocirelay::delivery {

class BatchBody {
 public:
  // `envelope` is a plain member name (no character JSON needs escaped in
  // it: the configuration allows letters, digits, '_' and '-'), or empty.
  explicit BatchBody(std::string_view envelope);

  std::size_t count() const noexcept { return count_; }
  // The finished body's size as it stands.
  std::size_t size() const noexcept { return size_with_events(0); }
  // The finished body's size with one more event of `event_bytes` bytes.
  std::size_t size_with(std::size_t event_bytes) const noexcept;

  void add(std::string_view event);
  // The finished body; the BatchBody is empty (of events) afterwards.
  std::string take();

 private:
  std::size_t size_with_events(std::size_t more) const noexcept;

  std::string open_;    // {"events":[  or  [
  std::string close_;   // ]}  or  ]
  std::string events_;  // e1,e2,...
  std::size_t count_ = 0;
};

}  // namespace ocirelay::delivery
