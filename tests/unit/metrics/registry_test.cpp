#include <catch2/catch.hpp>

#include "ocirelay/metrics/registry.hpp"

using namespace ocirelay::metrics;

TEST_CASE("metrics render in the Prometheus text format", "[metrics]") {
  Registry reg;
  reg.counter("ocirelay_x_total", "Things", {{"result", "ok"}}).inc(3);
  reg.counter("ocirelay_x_total", "Things", {{"result", "bad\"one"}}).inc();
  reg.gauge("ocirelay_depth", "Depth").set(2.5);
  auto& h = reg.histogram("ocirelay_lat_seconds", "Latency", {0.1, 1}, {{"d", "a"}});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = reg.render();
  CHECK(text.find("# HELP ocirelay_x_total Things\n# TYPE ocirelay_x_total counter\n") !=
        std::string::npos);
  CHECK(text.find("ocirelay_x_total{result=\"ok\"} 3\n") != std::string::npos);
  CHECK(text.find("ocirelay_x_total{result=\"bad\\\"one\"} 1\n") != std::string::npos);
  CHECK(text.find("ocirelay_depth 2.5\n") != std::string::npos);
  CHECK(text.find("ocirelay_lat_seconds_bucket{d=\"a\",le=\"0.1\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("ocirelay_lat_seconds_bucket{d=\"a\",le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("ocirelay_lat_seconds_bucket{d=\"a\",le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("ocirelay_lat_seconds_sum{d=\"a\"} 5.55\n") != std::string::npos);
  CHECK(text.find("ocirelay_lat_seconds_count{d=\"a\"} 3\n") != std::string::npos);
}

TEST_CASE("the same name and labels give the same metric", "[metrics]") {
  Registry reg;
  auto& a = reg.counter("c_total", "c", {{"k", "v"}});
  auto& b = reg.counter("c_total", "c", {{"k", "v"}});
  CHECK(&a == &b);
  CHECK_THROWS(reg.gauge("c_total", "c"));
}
