#include "ocirelay/delivery/batch_body.hpp"

#include <utility>

namespace ocirelay::delivery {

BatchBody::BatchBody(std::string_view envelope) {
  if (envelope.empty()) {
    open_ = "[";
    close_ = "]";
  } else {
    open_ = "{\"" + std::string(envelope) + "\":[";
    close_ = "]}";
  }
}

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
