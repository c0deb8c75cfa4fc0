// How a batching destination groups its waiting events into requests, and
// the name a batch is sent under. Pure functions over values.
//
// - cut_batch(): the next batch takes the oldest waiting events, in order,
//   while it has fewer than max_events and its whole body (envelope, commas
//   and all) stays within max_bytes. An event that alone would not fit is
//   sent alone (oversized). The batch is full when nothing more could join it
//   (max_events reached, or the next waiting event does not fit); a batch
//   that is not full waits for more events, up to max_wait.
// - batch_key(): the Idempotency-Key of a batch: "batch-" and the SHA-256
//   (hex) of its sorted event IDs, each with its length, so that the same
//   events give the same key in any order and on every retry, and different
//   sets of events different keys.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "ocirelay/config/config.hpp"

namespace ocirelay::delivery {

struct BatchCut {
  std::size_t count = 0;   // events, from the oldest
  bool full = false;       // nothing more could join it
  bool oversized = false;  // one event larger than max_bytes on its own
};

// `sizes`: the shaped sizes of the waiting events, oldest first (only the
// first max_events + 1 matter). `envelope_bytes`: the size of an empty batch
// body (BatchBody::size()).
BatchCut cut_batch(const config::DestinationBatch& spec, std::span<const std::size_t> sizes,
                   std::size_t envelope_bytes);

std::string batch_key(std::vector<std::string> event_ids);

// For people (startup log, --check-config): "batches of up to 100 events and
// 50KiB, sent within 1s, as {"events": [...]}", or "no batching".
std::string describe_batch(const config::DestinationBatch& spec);

}  // namespace ocirelay::delivery
