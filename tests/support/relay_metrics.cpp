#include "support/relay_metrics.hpp"

#include <sstream>
#include <thread>

#include "support/test_client.hpp"

namespace ocirelay::test {

using namespace std::chrono_literals;

std::uint16_t metrics_port(RelayHarness& relay) { return relay.management_port(); }

namespace {

// The /metrics text, one scrape.
std::string scrape(RelayHarness& relay) {
  return TestClient(metrics_port(relay)).request("GET", "/metrics").body;
}

std::optional<double> value_in(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> metric(RelayHarness& relay, const std::string& series) {
  return value_in(scrape(relay), series);
}

std::string attempts_series(const std::string& destination, const std::string& outcome,
                            const std::string& status_class) {
  return "ocirelay_delivery_attempts_total{destination=\"" + destination + "\",outcome=\"" +
         outcome + "\",status_class=\"" + status_class + "\"}";
}

double attempts(RelayHarness& relay, const std::string& destination, const std::string& outcome,
                const std::string& status_class) {
  return metric(relay, attempts_series(destination, outcome, status_class)).value_or(0);
}

bool wait_for_metric(RelayHarness& relay, const std::string& series, double value,
                     Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (metric(relay, series).value_or(0) >= value) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

bool wait_until_settled(RelayHarness& relay, const std::string& destination, Duration timeout) {
  const std::string labels = "{destination=\"" + destination + "\"}";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // The queue gauges are read from storage at each scrape; both from the
    // same one (a row goes from inflight back to pending between two).
    const std::string text = scrape(relay);
    const auto pending = value_in(text, "ocirelay_queue_depth" + labels);
    const auto inflight = value_in(text, "ocirelay_deliveries_in_flight" + labels);
    if (pending == 0.0 && inflight == 0.0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

}  // namespace ocirelay::test
