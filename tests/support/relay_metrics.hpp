// What a running relay reports on /metrics, for integration tests that wait
// on the relay's own account of its work instead of on fixed sleeps or on the
// wording of its log. Where /metrics is served is decided in metrics_port()
// alone.
//
// Thread contract: call from the test thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "ocirelay/common/duration.hpp"
#include "support/relay_harness.hpp"

namespace ocirelay::test {

// The port that serves the relay's /metrics.
std::uint16_t metrics_port(RelayHarness& relay);

// One series as rendered ("name{label=\"value\",...}"), nullopt when absent.
std::optional<double> metric(RelayHarness& relay, const std::string& series);

// ocirelay_delivery_attempts_total of one destination, outcome (delivered,
// retry, dead) and status class (2xx, 4xx, 5xx, error).
std::string attempts_series(const std::string& destination, const std::string& outcome,
                            const std::string& status_class);
// Its value, 0 when absent.
double attempts(RelayHarness& relay, const std::string& destination, const std::string& outcome,
                const std::string& status_class);

// Polls until `series` is at least `value`; false at the timeout.
bool wait_for_metric(RelayHarness& relay, const std::string& series, double value,
                     Duration timeout);

// Polls until the destination has nothing pending or in flight in storage:
// every attempt it was going to make has been made and recorded (delivered
// or dead), so the counts a fake destination saw are final. False at the
// timeout.
bool wait_until_settled(RelayHarness& relay, const std::string& destination, Duration timeout);

}  // namespace ocirelay::test
