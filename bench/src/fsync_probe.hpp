// The disk's raw durable-write rate: how many times a second one process can
// append a block to a file and fdatasync it. The ceiling for a relay that
// commits each event alone; group commit is how the relay gets past it.
#pragma once

#include <string>

namespace ocirelay::bench {

struct FsyncResult {
  double syncs_per_second = 0;
  std::string error;  // empty on success
};

// Appends `block` bytes and fdatasyncs, repeatedly for `seconds`, in a
// temporary file under `dir` that is removed afterwards.
FsyncResult probe_fsync(const std::string& dir, double seconds, std::size_t block = 4096);

}  // namespace ocirelay::bench
