// The request body a destination receives for an event, compiled once from
// the destination's `payload:` setting:
//   raw    - the event exactly as received, byte for byte;
//   fields - a compact JSON object {name: value, ...}, names in configuration
//            order, each value the JSON found at its JSON Pointer in the event
//            (strings, numbers, objects, ... kept as JSON) or null when the
//            pointer leads nowhere.
//
// Thread and lifetime contract: immutable once compiled; shape() is const and
// may be called from any thread. Copies share the compiled pointers.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"

namespace ocirelay::delivery {

class Payload {
 public:
  // Raw.
  Payload();
  // Fails when a pointer is not a valid JSON Pointer (the loader has already
  // checked them, so this only guards direct use).
  static Result<Payload> compile(const config::DestinationPayload& spec);

  bool raw() const noexcept { return fields_ == nullptr; }

  // The body to send for `event`. With fields, an event that is not JSON (the
  // relay only queues JSON, so this does not happen) gives every field null.
  std::string shape(std::string_view event) const;

 private:
  struct Fields;
  std::shared_ptr<const Fields> fields_;  // null: raw
};

}  // namespace ocirelay::delivery
