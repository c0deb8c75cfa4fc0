// ocirelay-bench: the measuring tool behind bench/run.sh.
//
//   ocirelay-bench sink  --port P [--expect N]        fast 202 sink until SIGTERM
//   ocirelay-bench post  --target PORT[,PORT...] --count N --connections C --event FILE
//                        [--run ID] [--batch EVENTS_PER_REQUEST] [--ids sequential|random]
//                        [--times now|fixed]
//   ocirelay-bench e2e   --target PORT[,PORT...] --sink-port P --count N --connections C
//                        --event FILE [--run ID] [--timeout SECONDS] [--rate EVENTS_PER_S]
//                        [--ids sequential|random] [--times now|fixed]
//
// Several target ports (relays on one database): connection i posts to port
// i % ports. --batch N (N > 1) posts CloudEvents batches of N events
// (application/cloudevents-batch+json; --event is then a structured
// CloudEvent); counts and rates stay in events. --ids random gives each
// event a UUID-shaped part in its ID, as OCI's eventIDs are, in no order
// (the default "<run>-<seq>" IDs reach the relay's dedupe index nearly in order).
// Each event's time is when it is made (--times now, the default), as a real
// event's is about when it happened; --times fixed keeps the file's, as for
// events that carry none: the relay's dedupe key then orders them by ID.
//   ocirelay-bench hold  --target PORT --pid PID --connections N --event FILE
//                        [--run ID] [--settle SECONDS] [--after S1,S2,...]
//
// hold: memory per connection. N TLS keep-alive connections, one event
// posted on each, kept open idle; the relay's VmRSS (of PID) before, while
// idle (after --settle seconds, default 10), and at each of --after seconds
// after closing them all (default 5,30,60).
//   ocirelay-bench fsync --dir D [--seconds S]
//   ocirelay-bench free-port
//
// Figures are printed as key=value lines for the harness to collect. Every
// address is 127.0.0.1.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include "clock.hpp"
#include "connection_hold.hpp"
#include "event_template.hpp"
#include "fsync_probe.hpp"
#include "load_generator.hpp"
#include "sink.hpp"

namespace {

using namespace ocirelay::bench;
namespace asio = boost::asio;

using Args = std::map<std::string, std::string>;

Args parse(int argc, char** argv) {
  Args args;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) == 0) {
      key.erase(0, 2);
    }
    args[key] = argv[i + 1];
  }
  return args;
}

std::string get(const Args& a, const std::string& key, const std::string& fallback = "") {
  const auto it = a.find(key);
  return it == a.end() ? fallback : it->second;
}

std::uint64_t number(const Args& a, const std::string& key, std::uint64_t fallback) {
  const auto text = get(a, key);
  return text.empty() ? fallback : std::strtoull(text.c_str(), nullptr, 10);
}

int usage() {
  std::fprintf(stderr,
               "usage: ocirelay-bench sink|post|e2e|hold|fsync|free-port [--key value]...\n"
               "see the comment at the top of bench/src/main.cpp\n");
  return 2;
}

void print_load(const LoadReport& r) {
  const double seconds = static_cast<double>(r.finished_ns - r.started_ns) / 1e9;
  std::printf("accepted=%llu\nrequests=%llu\nrefused=%llu\nerrors=%llu\nseconds=%.3f\n",
              static_cast<unsigned long long>(r.accepted),
              static_cast<unsigned long long>(r.requests),
              static_cast<unsigned long long>(r.refused), static_cast<unsigned long long>(r.errors),
              seconds);
  std::printf("accepted_per_s=%.0f\n", seconds > 0 ? static_cast<double>(r.accepted) / seconds : 0);
  std::printf("latency_p50_us=%u\nlatency_p99_us=%u\nlatency_p999_us=%u\n",
              percentile(r.latency_us, 50), percentile(r.latency_us, 99),
              percentile(r.latency_us, 99.9));
}

std::optional<EventTemplate> load_event(const Args& a) {
  std::string error;
  auto event = EventTemplate::load(get(a, "event"), error);
  if (!event) {
    std::fprintf(stderr, "ocirelay-bench: %s\n", error.c_str());
    return event;
  }
  const std::string times = get(a, "times", "now");
  if (times == "fixed") {
    event->keep_time();
  } else if (times != "now") {
    std::fprintf(stderr, "ocirelay-bench: --times must be now or fixed\n");
    return std::nullopt;
  }
  return event;
}

LoadOptions load_options(const Args& a) {
  LoadOptions o;
  const std::string targets = get(a, "target");
  for (std::size_t at = 0; at < targets.size();) {
    auto comma = targets.find(',', at);
    if (comma == std::string::npos) comma = targets.size();
    const auto port = std::strtoul(targets.substr(at, comma - at).c_str(), nullptr, 10);
    if (port == 0 || port > 65535) {
      o.ports.clear();  // usage() follows
      break;
    }
    o.ports.push_back(static_cast<unsigned short>(port));
    at = comma + 1;
  }
  o.batch = number(a, "batch", 1);
  o.connections = number(a, "connections", 16);
  o.count = number(a, "count", 10000);
  o.run = get(a, "run", "bench");
  o.rate = std::strtod(get(a, "rate", "0").c_str(), nullptr);
  const std::string ids = get(a, "ids", "sequential");
  if (ids == "random") {
    o.ids = EventTemplate::Ids::random;
  } else if (ids != "sequential") {
    o.ports.clear();  // usage() follows
  }
  return o;
}

int run_sink(const Args& a) {
  asio::io_context io{1};
  Sink sink(io, static_cast<unsigned short>(number(a, "port", 0)), number(a, "expect", 0));
  sink.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { io.stop(); });
  std::printf("sink listening on 127.0.0.1:%u\n", sink.port());
  std::fflush(stdout);
  io.run();
  std::printf("received=%llu\nduplicates=%llu\n", static_cast<unsigned long long>(sink.received()),
              static_cast<unsigned long long>(sink.duplicates()));
  return 0;
}

int run_post(const Args& a) {
  const auto event = load_event(a);
  if (!event) {
    return 1;
  }
  const auto options = load_options(a);
  if (options.ports.empty()) {
    return usage();
  }
  const auto report = LoadGenerator(options, *event).run();
  std::printf("event_bytes=%zu\n", event->size());
  print_load(report);
  return report.accepted == options.count ? 0 : 1;
}

// Posts while a sink in this process receives what the relay delivers; the
// added latency is the time from the relay's 2xx to the event's arrival at
// the sink, on one monotonic clock.
int run_e2e(const Args& a) {
  const auto event = load_event(a);
  if (!event) {
    return 1;
  }
  const auto options = load_options(a);
  if (options.ports.empty()) {
    return usage();
  }
  asio::io_context sink_io{1};
  Sink sink(sink_io, static_cast<unsigned short>(number(a, "sink-port", 0)), options.count);
  sink.start();
  std::thread sink_thread([&] { sink_io.run(); });

  const auto report = LoadGenerator(options, *event).run();
  const auto deadline =
      now_ns() + static_cast<std::int64_t>(number(a, "timeout", 120)) * 1000000000;
  while (sink.received() < report.accepted && now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  sink_io.stop();
  sink_thread.join();

  std::vector<std::uint32_t> added_us;
  std::vector<std::uint32_t> total_us;
  std::uint64_t lost = 0;
  std::uint64_t early = 0;  // delivered before the relay's answer reached the client
  for (std::uint64_t seq = 0; seq < options.count; ++seq) {
    if (report.acked_ns[seq] == 0) {
      continue;
    }
    const auto arrived = sink.arrival(seq);
    if (arrived == 0) {
      ++lost;
      continue;
    }
    const auto added = arrived - report.acked_ns[seq];
    early += added < 0 ? 1 : 0;
    added_us.push_back(static_cast<std::uint32_t>(added < 0 ? 0 : added / 1000));
    total_us.push_back(static_cast<std::uint32_t>((arrived - report.sent_ns[seq]) / 1000));
  }
  print_load(report);
  const double delivery_seconds = static_cast<double>(sink.last_ns() - report.started_ns) / 1e9;
  std::printf("delivered=%llu\nduplicates=%llu\nnot_delivered=%llu\ndelivered_before_ack=%llu\n",
              static_cast<unsigned long long>(sink.received() - sink.duplicates()),
              static_cast<unsigned long long>(sink.duplicates()),
              static_cast<unsigned long long>(lost), static_cast<unsigned long long>(early));
  std::printf("delivered_per_s=%.0f\n",
              delivery_seconds > 0 ? static_cast<double>(sink.received()) / delivery_seconds : 0);
  std::printf("added_p50_us=%u\nadded_p90_us=%u\nadded_p99_us=%u\nadded_max_us=%u\n",
              percentile(added_us, 50), percentile(added_us, 90), percentile(added_us, 99),
              percentile(added_us, 100));
  // What OIC would bill for these deliveries, and how full the requests were.
  std::printf("sink_requests=%llu\nbilled_messages=%llu\n",
              static_cast<unsigned long long>(sink.requests()),
              static_cast<unsigned long long>(sink.billed_messages()));
  std::printf("events_per_request=%.1f\nevents_per_billed_message=%.1f\n",
              sink.requests() > 0
                  ? static_cast<double>(sink.received()) / static_cast<double>(sink.requests())
                  : 0,
              sink.billed_messages() > 0 ? static_cast<double>(sink.received()) /
                                               static_cast<double>(sink.billed_messages())
                                         : 0);
  std::printf("post_to_delivery_p50_us=%u\npost_to_delivery_p99_us=%u\n", percentile(total_us, 50),
              percentile(total_us, 99));
  return lost == 0 ? 0 : 1;
}

int run_hold(const Args& a) {
  const auto event = load_event(a);
  if (!event) {
    return 1;
  }
  HoldOptions o;
  o.port = static_cast<unsigned short>(number(a, "target", 0));
  o.pid = static_cast<int>(number(a, "pid", 0));
  o.connections = number(a, "connections", 256);
  o.run = get(a, "run", "hold");
  o.settle_seconds = std::strtod(get(a, "settle", "10").c_str(), nullptr);
  const std::string after = get(a, "after", "5,30,60");
  o.after_close.clear();
  for (std::size_t at = 0; at < after.size();) {
    auto comma = after.find(',', at);
    if (comma == std::string::npos) comma = after.size();
    o.after_close.push_back(std::strtod(after.substr(at, comma - at).c_str(), nullptr));
    at = comma + 1;
  }
  if (o.port == 0 || o.pid <= 0 || o.after_close.empty()) {
    return usage();
  }
  const auto r = ConnectionHold(o, *event).run();
  std::printf("connections=%zu\nopened=%zu\nfailed=%zu\n", o.connections, r.opened, r.failed);
  std::printf("rss_start_kb=%ld\nrss_idle_kb=%ld\nhwm_kb=%ld\n", r.rss_start_kb, r.rss_idle_kb,
              r.hwm_kb);
  std::printf("idle_kb_per_connection=%.1f\n",
              r.opened > 0 ? static_cast<double>(r.rss_idle_kb - r.rss_start_kb) /
                                 static_cast<double>(r.opened)
                           : 0);
  for (std::size_t i = 0; i < o.after_close.size(); ++i) {
    std::printf("rss_closed_%.0fs_kb=%ld\n", o.after_close[i], r.rss_after_close_kb[i]);
  }
  return r.opened == o.connections ? 0 : 1;
}

int run_fsync(const Args& a) {
  const auto seconds = std::strtod(get(a, "seconds", "3").c_str(), nullptr);
  const auto result = probe_fsync(get(a, "dir", "."), seconds);
  if (!result.error.empty()) {
    std::fprintf(stderr, "ocirelay-bench: %s\n", result.error.c_str());
    return 1;
  }
  std::printf("fsync_per_s=%.0f\n", result.syncs_per_second);
  return 0;
}

int run_free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
  std::printf("%u\n", probe.local_endpoint().port());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return usage();
  }
  const std::string mode = argv[1];
  const Args args = parse(argc, argv);
  try {
    if (mode == "sink") return run_sink(args);
    if (mode == "post") return run_post(args);
    if (mode == "e2e") return run_e2e(args);
    if (mode == "hold") return run_hold(args);
    if (mode == "fsync") return run_fsync(args);
    if (mode == "free-port") return run_free_port();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ocirelay-bench %s: %s\n", mode.c_str(), e.what());
    return 1;
  }
  return usage();
}
