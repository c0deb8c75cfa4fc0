// LoadGenerator: posts `count` distinct events to the relay over `connections`
// keep-alive connections, as fast as the relay answers (or, with `rate`, event
// n not before n / rate seconds from the start: a steady rate), and records
// for each event when it was sent and when its answer arrived. With several
// `ports` (relays sharing one database), connection i posts to port
// i % ports; with `batch` > 1, each request is a CloudEvents batch
// (application/cloudevents-batch+json) of up to `batch` events, and the
// figures still count events.
//
// Thread and lifetime contract: run() blocks the calling thread, which alone
// runs the generator's own io_context; the returned report is owned by the
// caller. Not reusable: one run() per object.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "event_template.hpp"

namespace ocirelay::bench {

struct LoadOptions {
  std::string host = "127.0.0.1";
  std::vector<unsigned short> ports;  // the relays; connections are spread over them
  std::string path = "/v1/events";
  std::size_t connections = 16;
  std::uint64_t count = 10000;
  std::string run = "bench";  // eventID prefix, distinct per run
  double rate = 0;            // events per second; 0: as fast as answered
  std::size_t batch = 1;      // events per request; > 1: a CloudEvents batch
  EventTemplate::Ids ids = EventTemplate::Ids::sequential;
};

struct LoadReport {
  std::uint64_t accepted = 0;  // events answered 2xx
  std::uint64_t requests = 0;  // requests answered 2xx
  std::uint64_t refused = 0;   // events answered anything else
  std::uint64_t errors = 0;    // connection errors (each retried once the connection is back)
  std::int64_t started_ns = 0;
  std::int64_t finished_ns = 0;
  std::vector<std::int64_t> sent_ns;      // by sequence number; 0 if never answered 2xx
  std::vector<std::int64_t> acked_ns;     // by sequence number; 0 if never answered 2xx
  std::vector<std::uint32_t> latency_us;  // of every request answered 2xx
};

class LoadGenerator {
 public:
  LoadGenerator(LoadOptions options, const EventTemplate& event);
  LoadReport run();

 private:
  LoadOptions options_;
  const EventTemplate& event_;
};

}  // namespace ocirelay::bench
