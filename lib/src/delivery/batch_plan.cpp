#include "ocirelay/delivery/batch_plan.hpp"

#include <algorithm>
#include <cstdio>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/common/oci_private_key.hpp"
#include "ocirelay/common/size.hpp"

namespace ocirelay::delivery {

BatchCut cut_batch(const config::DestinationBatch& spec, std::span<const std::size_t> sizes,
                   std::size_t envelope_bytes) {
  BatchCut cut;
  if (sizes.empty()) return cut;
  const std::size_t max_events = std::max(1u, spec.max_events);
  if (envelope_bytes + sizes[0] > spec.max_bytes) {
    cut.count = 1;
    cut.full = true;
    cut.oversized = true;
    return cut;
  }
  std::size_t body = envelope_bytes + sizes[0];
  cut.count = 1;
  while (cut.count < sizes.size()) {
    if (cut.count == max_events) {
      cut.full = true;
      return cut;
    }
    const std::size_t next = body + 1 + sizes[cut.count];  // a comma and the event
    if (next > spec.max_bytes) {
      cut.full = true;
      return cut;
    }
    body = next;
    ++cut.count;
  }
  cut.full = cut.count == max_events;
  return cut;
}

std::string batch_key(std::vector<std::string> event_ids) {
  std::sort(event_ids.begin(), event_ids.end());
  std::string text;
  for (const auto& id : event_ids) {
    text += std::to_string(id.size());
    text += ':';
    text += id;
    text += '\n';
  }
  // sha256_base64 is what common has; the key is spelled in hex.
  const auto digest = base64_decode(sha256_base64(text)).value_or(std::string());
  std::string key = "batch-";
  char hex[3];
  for (unsigned char c : digest) {
    std::snprintf(hex, sizeof hex, "%02x", c);
    key += hex;
  }
  return key;
}

std::string describe_batch(const config::DestinationBatch& spec) {
  if (!spec.enabled()) return "no batching";
  return "batches of up to " + std::to_string(spec.max_events) + " events and " +
         format_size(spec.max_bytes) + ", sent within " + format_duration(spec.max_wait) + ", as " +
         (spec.envelope.empty() ? std::string("[...]") : "{\"" + spec.envelope + "\": [...]}");
}

}  // namespace ocirelay::delivery
