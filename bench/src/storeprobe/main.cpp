// ocirelay-storeprobe: the storage work of the relay's rounds, run alone on
// one thread with the relay's SQLite store or with another embedded engine
// doing the same work, to put a figure on what an engine change would buy
// (docs/benchmarks.md, "Other engines for the same work").
//
//   ocirelay-storeprobe --engine sqlite|rocksdb|lmdb --dir D --event FILE
//                       [--mode accept|e2e] [--events N] [--batch B]
//                       [--ids sequential|random] [--times now|none] [--run ID]
//
// accept: rounds of B new events, each round one durable transaction (the
// relay's group commit with the destination down). e2e: each round also
// takes B due deliveries and applies the previous round's claims as
// delivered, then a last round drains what is left; the probe fails unless
// every event came back once. D must be empty or missing; the probe leaves
// its files there. --times now (the default) gives each round's events the
// round's time as their eventTime, which begins their dedupe key as it does
// for real events (storage::dedupe_key); none, no time: keys in ID order.
// Figures are key=value lines; the CPU is the process's (every thread,
// kernel included) over the rounds and the engine's closing: the events are
// made before the clock starts.
#include <sys/resource.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "../event_template.hpp"
#include "engine.hpp"

namespace {

using ocirelay::bench::EventTemplate;

struct Options {
  std::string engine;
  std::string dir;
  std::string event_file;
  std::string mode = "accept";
  std::string run = "probe";
  std::uint64_t events = 60000;
  std::size_t batch = 20;
  EventTemplate::Ids ids = EventTemplate::Ids::sequential;
  bool times = true;
};

int usage(const char* why) {
  std::fprintf(stderr,
               "ocirelay-storeprobe: %s\n"
               "usage: ocirelay-storeprobe --engine sqlite|rocksdb|lmdb --dir D --event FILE\n"
               "       [--mode accept|e2e] [--events N] [--batch B] [--ids sequential|random]"
               " [--times now|none] [--run ID]\n",
               why);
  return 2;
}

bool parse_count(const std::string& text, std::uint64_t& out) {
  const auto* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), last, out);
  return ec == std::errc{} && ptr == last && out > 0;
}

// Empty string when the arguments are good, else the reason.
std::string parse(int argc, char** argv, Options& o) {
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; i += 2) {
    const std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || i + 1 >= argc) return "expected --key value pairs";
    kv[key.substr(2)] = argv[i + 1];
  }
  for (const auto& [key, value] : kv) {
    std::uint64_t n = 0;
    if (key == "engine") {
      o.engine = value;
    } else if (key == "dir") {
      o.dir = value;
    } else if (key == "event") {
      o.event_file = value;
    } else if (key == "mode") {
      o.mode = value;
    } else if (key == "run") {
      o.run = value;
    } else if (key == "events" && parse_count(value, n)) {
      o.events = n;
    } else if (key == "batch" && parse_count(value, n)) {
      o.batch = static_cast<std::size_t>(n);
    } else if (key == "ids" && (value == "random" || value == "sequential")) {
      o.ids = value == "random" ? EventTemplate::Ids::random : EventTemplate::Ids::sequential;
    } else if (key == "times" && (value == "now" || value == "none")) {
      o.times = value == "now";
    } else {
      return "bad option --" + key + " " + value;
    }
  }
  if (o.engine != "sqlite" && o.engine != "rocksdb" && o.engine != "lmdb") {
    return "--engine must be sqlite, rocksdb or lmdb";
  }
  if (o.dir.empty() || o.event_file.empty()) return "--dir and --event are required";
  if (o.mode != "accept" && o.mode != "e2e") return "--mode must be accept or e2e";
  return {};
}

struct CpuSeconds {
  double user = 0;
  double system = 0;
};

CpuSeconds cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto secs = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return {secs(usage.ru_utime), secs(usage.ru_stime)};
}

// What this process has had sent to the storage layer (/proc/self/io).
std::uint64_t written_bytes() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return 0;
}

std::uint64_t folder_bytes(const std::string& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
  }
  return total;
}

ocirelay::Result<std::unique_ptr<ocirelay::bench::StoreEngine>> open_engine(const Options& o) {
  if (o.engine == "sqlite") return ocirelay::bench::open_sqlite_engine(o.dir);
  if (o.engine == "rocksdb") return ocirelay::bench::open_rocksdb_engine(o.dir);
  return ocirelay::bench::open_lmdb_engine(o.dir);
}

// The events as the relay would store them, one destination each.
std::vector<ocirelay::storage::NewEvent> make_events(const Options& o, const EventTemplate& t) {
  std::vector<ocirelay::storage::NewEvent> events(o.events);
  for (std::uint64_t i = 0; i < o.events; ++i) {
    auto& e = events[i];
    e.event_id = t.id(o.run, i, o.ids);
    e.body = t.make(o.run, i, o.ids);
    e.destinations = {"sink"};
  }
  return events;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const auto why = parse(argc, argv, o); !why.empty()) return usage(why.c_str());
  std::string error;
  const auto event_template = EventTemplate::load(o.event_file, error);
  if (!event_template) return usage(error.c_str());
  std::error_code ec;
  std::filesystem::create_directories(o.dir, ec);
  if (!std::filesystem::is_empty(o.dir, ec) || ec) {
    return usage(("--dir " + o.dir + " must be an empty folder").c_str());
  }
  auto events = make_events(o, *event_template);
  auto engine = open_engine(o);
  if (!engine) {
    std::fprintf(stderr, "ocirelay-storeprobe: %s\n", engine.error().c_str());
    return 1;
  }

  const bool e2e = o.mode == "e2e";
  std::uint64_t rounds = 0, duplicates = 0, delivered = 0, body_bytes = 0;
  std::vector<std::int64_t> claimed;
  const auto written_before = written_bytes();
  const auto cpu_before = cpu_seconds();
  const auto wall_before = std::chrono::steady_clock::now();
  std::size_t next = 0;
  while (next < events.size() || !claimed.empty()) {
    const std::size_t n = std::min(o.batch, events.size() - next);
    const auto now = ocirelay::storage::now_millis();
    const std::string time = o.times ? EventTemplate::time_now() : std::string();
    for (std::size_t i = next; i < next + n; ++i) {
      events[i].received_at = now;
      events[i].event_time = time;
    }
    ocirelay::bench::ProbeRound round;
    round.events = std::span<const ocirelay::storage::NewEvent>(events.data() + next, n);
    round.delivered = claimed;
    round.claim = e2e ? o.batch : 0;
    auto result = (*engine)->run(round);
    if (!result) {
      std::fprintf(stderr, "ocirelay-storeprobe: round %llu: %s\n",
                   static_cast<unsigned long long>(rounds), result.error().c_str());
      return 1;
    }
    ++rounds;
    next += n;
    duplicates += result->duplicates;
    delivered += claimed.size();
    body_bytes += result->body_bytes;
    claimed = std::move(result->claimed);
  }
  engine.value().reset();  // closing is part of the work (a flush, a checkpoint)
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
  const auto cpu_after = cpu_seconds();
  const double user = cpu_after.user - cpu_before.user;
  const double system = cpu_after.system - cpu_before.system;
  const auto written = written_bytes() - written_before;

  const double per = static_cast<double>(o.events);
  std::printf("engine=%s\nmode=%s\nids=%s\ntimes=%s\nevents=%llu\nbatch=%zu\nrounds=%llu\n",
              o.engine.c_str(), o.mode.c_str(),
              o.ids == EventTemplate::Ids::random ? "random" : "sequential",
              o.times ? "now" : "none", static_cast<unsigned long long>(o.events), o.batch,
              static_cast<unsigned long long>(rounds));
  std::printf("duplicates=%llu\ndelivered=%llu\n", static_cast<unsigned long long>(duplicates),
              static_cast<unsigned long long>(delivered));
  std::printf(
      "events_per_s=%.0f\ncpu_us_per_event=%.2f\nuser_us_per_event=%.2f\n"
      "system_us_per_event=%.2f\nwritten_bytes_per_event=%.0f\n",
      per / wall, (user + system) * 1e6 / per, user * 1e6 / per, system * 1e6 / per,
      static_cast<double>(written) / per);
  std::printf("disk_bytes=%llu\n", static_cast<unsigned long long>(folder_bytes(o.dir)));
  if (duplicates != 0) {
    std::fprintf(stderr, "ocirelay-storeprobe: %llu events taken for duplicates\n",
                 static_cast<unsigned long long>(duplicates));
    return 1;
  }
  std::uint64_t expected_body_bytes = 0;
  for (const auto& e : events) expected_body_bytes += e.body.size();
  if (e2e && (delivered != o.events || body_bytes != expected_body_bytes)) {
    std::fprintf(
        stderr,
        "ocirelay-storeprobe: %llu of %llu events came back, with %llu of %llu body bytes\n",
        static_cast<unsigned long long>(delivered), static_cast<unsigned long long>(o.events),
        static_cast<unsigned long long>(body_bytes),
        static_cast<unsigned long long>(expected_body_bytes));
    return 1;
  }
  return 0;
}
