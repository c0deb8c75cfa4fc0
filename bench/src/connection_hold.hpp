// ConnectionHold: the memory-per-connection step of bench/run.sh. Opens
// `connections` TLS keep-alive connections to the relay, posts one distinct
// event on each (so every connection is a used one, its answer read), and
// keeps them all open and idle; then closes them (without close_notify, as
// most clients do) and reports the relay's resident memory (VmRSS of `pid`,
// from /proc) before, while they are idle (`settle_seconds` after the last
// answer: the relay gives memory freed by handshakes back within about 5 s),
// and at each of `after_close` seconds after closing.
//
// Thread and lifetime contract: run() blocks the calling thread, which alone
// runs the hold's own io_context; one run() per object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "event_template.hpp"

namespace ocirelay::bench {

struct HoldOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  int pid = 0;  // the relay's process, for its VmRSS
  std::size_t connections = 256;
  std::string run = "hold";                    // eventID prefix, distinct per run
  double settle_seconds = 10;                  // after the last answer, before the idle figure
  std::vector<double> after_close{5, 30, 60};  // seconds after closing, ascending
};

struct HoldReport {
  std::size_t opened = 0;                // connections whose event was answered 2xx
  std::size_t failed = 0;                // connections that failed or were answered otherwise
  long rss_start_kb = 0;                 // before the first connection
  long rss_idle_kb = 0;                  // every connection open and idle
  long hwm_kb = 0;                       // the relay's peak RSS (VmHWM) at that point
  std::vector<long> rss_after_close_kb;  // one per HoldOptions::after_close
};

class ConnectionHold {
 public:
  ConnectionHold(HoldOptions options, const EventTemplate& event);
  HoldReport run();

 private:
  HoldOptions options_;
  const EventTemplate& event_;
};

// A line of /proc/<pid>/status ("VmRSS", "VmHWM") in kB; -1 if unreadable.
long proc_status_kb(int pid, const std::string& field);

}  // namespace ocirelay::bench
