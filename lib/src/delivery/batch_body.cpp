#include "ocirelay/delivery/batch_body.hpp"

#include <utility>

namespace ocirelay::delivery {

// Built in the initialisers: assigning string literals here makes GCC 12 at
// -O3 report a -Wrestrict false positive inside std::string's _M_replace.
BatchBody::BatchBody(std::string_view envelope)
    : open_(envelope.empty() ? std::string("[") : "{\"" + std::string(envelope) + "\":["),
      close_(envelope.empty() ? "]" : "]}") {}

std::size_t BatchBody::size_with_events(std::size_t more) const noexcept {
  return open_.size() + events_.size() + more + close_.size();
}

std::size_t BatchBody::size_with(std::size_t event_bytes) const noexcept {
  return size_with_events(event_bytes + (count_ > 0 ? 1 : 0));  // and a comma
}

void BatchBody::add(std::string_view event) {
  if (count_ > 0) events_ += ',';
  events_ += event;
  ++count_;
}

std::string BatchBody::take() {
  std::string body;
  body.reserve(size());
  body += open_;
  body += events_;
  body += close_;
  events_.clear();
  count_ = 0;
  return body;
}

}  // namespace ocirelay::delivery
