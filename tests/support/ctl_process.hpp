// Runs the real ocirelayctl binary (built beside ocirelayd) as a child
// process to completion, capturing its stdout, stderr and exit code apart.
//
// Thread contract: call from the test thread; each call is independent.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "ocirelay/common/duration.hpp"

namespace ocirelay::test {

std::string ocirelayctl_path();

struct CtlResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Fails the test (throws) when it takes longer than `timeout`.
CtlResult run_ocirelayctl(const std::vector<std::string>& args,
                          Duration timeout = std::chrono::seconds(30));

}  // namespace ocirelay::test
