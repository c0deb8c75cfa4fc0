// The Dispatcher on an io_context of the test's own, in simulated time: a
// clock the test advances, a scripted sender standing in for the destination
// (answers at once, or holds a request until the test answers it), and the
// destination's queue in a real SQLite store, called on the test's thread
// (shared, with claims like PgStore's, for the tests of a queue several
// relays share). Covers concurrency, pause and probe, Retry-After,
// rate_limit, retries, max_attempts, max_age, oldest-first draining,
// drain()'s abort, claims that ran out while held, and results that storage
// fails to record while stopping.
#include <catch2/catch.hpp>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/delivery/batch_plan.hpp"
#include "ocirelay/delivery/dispatcher.hpp"
#include "ocirelay/metrics/registry.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/store.hpp"
#include "support/temp_dir.hpp"

using namespace ocirelay;
using namespace ocirelay::delivery;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using Answer = Result<http::ClientResponse, http::ClientError>;
using Steady = std::chrono::steady_clock;

namespace {

// Wall-clock start of the simulated time: a whole second, so that HTTP dates
// (whole seconds) are exact.
constexpr storage::Millis kT0 = 1'700'000'000'000;
// The jitter draw: (almost) the full backoff, so pauses are exact.
constexpr double kFull = 0.999999;

// Steady and wall-clock time that move only when the test says.
struct SimClock {
  Steady::time_point steady = Steady::time_point{} + 1000h;
  std::chrono::system_clock::time_point system{std::chrono::milliseconds(kT0)};

  void advance(Duration d) {
    steady += d;
    system += d;
  }
  storage::Millis millis() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(system.time_since_epoch()).count();
  }
  DeliveryClock delivery_clock() {
    return DeliveryClock{[this] { return steady; }, [this] { return system; }};
  }
};

Answer status(int code, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::ClientResponse r;
  r.status = code;
  for (auto& [name, value] : headers) r.headers.add(name, value);
  return r;
}

Answer no_response() {
  return fail(http::ClientError{http::ClientError::Kind::connect, "cannot connect"});
}

// The destination. A send is answered at once by `script` when it returns
// an answer, else held until the test answers it (oldest first).
class ScriptedSender final : public Sender {
 public:
  struct Call {
    std::string event_id;   // the Idempotency-Key: the event ID, or a batch's key
    Steady::time_point at;  // simulated
    std::string body;
    std::optional<std::size_t> events;  // a batch's count
  };
  using Script = std::function<std::optional<Answer>(std::size_t index, const std::string& id)>;

  ScriptedSender(asio::io_context& io, const SimClock& clock) : io_(io), clock_(clock) {}

  Script script = [](std::size_t, const std::string&) { return std::optional<Answer>(); };

  std::string shape(std::string_view event) const override { return std::string(event); }
  asio::awaitable<Answer> send(const std::string& event_id, std::string_view body,
                               std::optional<std::size_t> events) override {
    const std::size_t index = calls.size();
    calls.push_back({event_id, clock_.steady, std::string(body), events});
    if (auto answer = script(index, event_id)) co_return std::move(*answer);
    auto hold = std::make_shared<Hold>(io_);
    held_.push_back(hold);
    max_held = std::max(max_held, held_.size());
    hold->timer.expires_at(asio::steady_timer::time_point::max());
    co_await hold->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (hold->answer) co_return std::move(*hold->answer);
    co_return fail(http::ClientError{http::ClientError::Kind::io, "aborted"});
  }

  void cancel() override {
    ++cancels;
    for (auto& hold : held_) hold->timer.cancel();
    held_.clear();
  }

  std::size_t held() const { return held_.size(); }
  // Answers the oldest request held.
  void answer(Answer a) {
    REQUIRE_FALSE(held_.empty());
    auto hold = held_.front();
    held_.pop_front();
    hold->answer.emplace(std::move(a));
    hold->timer.cancel();
  }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& c : calls) out.push_back(c.event_id);
    return out;
  }

  std::vector<Call> calls;
  std::size_t max_held = 0;
  int cancels = 0;

 private:
  struct Hold {
    explicit Hold(asio::io_context& io) : timer(io) {}
    asio::steady_timer timer;
    std::optional<Answer> answer;
  };
  asio::io_context& io_;
  const SimClock& clock_;
  std::deque<std::shared_ptr<Hold>> held_;
};

// The destination's queue in a real SQLite store, called on the test thread.
// Like PgStore, it stamps the deliveries of each fetch that takes some with a
// claim token of their own (1, 2, ...), and notes the tokens the results
// carry back. When `shared`, it says so (Store::shared), and applies retry
// and dead results only under the claim their row was last taken with, as
// PgStore does; lapse() lets every claim run out at once. Completions can be
// made to fail, or held until the test lets them go.
class StoreQueue final : public DeliveryQueue {
 public:
  StoreQueue(storage::Store& store, std::string destination, asio::io_context* io = nullptr)
      : store_(store), destination_(std::move(destination)), io_(io) {}

  bool shared_queue = false;
  // complete() waits until release_completions() (needs the io_context).
  bool hold_completions = false;
  // The next this many complete() calls fail, as with storage unreachable.
  int failing_completions = 0;

  bool shared() const noexcept override { return shared_queue; }

  asio::awaitable<storage::StoreResult<storage::FetchResult>> fetch_due(
      storage::Millis now, std::size_t limit) override {
    fetch_limits.push_back(limit);
    auto fetched = store_.fetch_due(destination_, now, limit);
    if (fetched && !fetched->due.empty()) {
      ++last_claim_;
      for (auto& d : fetched->due) {
        d.claim = last_claim_;
        row_claims_[d.id] = last_claim_;
      }
    }
    co_return fetched;
  }
  asio::awaitable<storage::StoreResult<Unit>> complete(
      std::vector<storage::AttemptResult> results) override {
    ++completions_;
    if (hold_completions) {
      REQUIRE(io_ != nullptr);
      auto hold = std::make_shared<asio::steady_timer>(*io_, asio::steady_timer::time_point::max());
      held_completions_.push_back(hold);
      co_await hold->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (failing_completions > 0) {
      --failing_completions;
      ++failed_completions_;
      co_return fail(storage::StoreError{"the database cannot be reached", false});
    }
    for (const auto& r : results) result_claims_.push_back(r.claim);
    if (!shared_queue) co_return store_.complete(results);
    std::vector<storage::AttemptResult> apply;
    for (const auto& r : results) {
      const auto it = row_claims_.find(r.id);
      const bool current = it != row_claims_.end() && it->second == r.claim;
      if (r.kind == storage::AttemptResult::Kind::delivered || current) {
        apply.push_back(r);
      } else {
        ++stale_results_;
      }
    }
    auto done = store_.complete(apply);
    if (done) {
      for (const auto& r : apply) row_claims_.erase(r.id);
    }
    co_return done;
  }
  // Every claim runs out (the relay could not renew): the rows in flight
  // are due again for the next fetch.
  void lapse() { REQUIRE(store_.release_inflight(destination_)); }
  // Lets the completions held so far go on.
  void release_completions() {
    for (auto& hold : held_completions_) hold->cancel();
    held_completions_.clear();
  }
  std::size_t held_completions() const { return held_completions_.size(); }
  // Retry and dead results that came with a claim no longer the row's: ignored.
  int stale_results() const { return stale_results_; }
  int failed_completions() const { return failed_completions_; }
  // The limit of each fetch_due() call, in order.
  std::vector<std::size_t> fetch_limits;
  // How many complete() calls (transactions) there were.
  int completions() const { return completions_; }
  // The token of the last fetch that took deliveries (0: none yet).
  std::int64_t last_claim() const { return last_claim_; }
  // The claim token of each result recorded, in order.
  const std::vector<std::int64_t>& result_claims() const { return result_claims_; }

 private:
  storage::Store& store_;
  std::string destination_;
  asio::io_context* io_;
  int completions_ = 0;
  int failed_completions_ = 0;
  int stale_results_ = 0;
  std::int64_t last_claim_ = 0;
  std::vector<std::int64_t> result_claims_;
  std::map<std::int64_t, std::int64_t> row_claims_;  // delivery id -> claim last taken with
  std::vector<std::shared_ptr<asio::steady_timer>> held_completions_;
};

config::Destination destination(unsigned concurrency = 4) {
  config::Destination d;
  d.name = "oic";
  d.url = "http://127.0.0.1:9/flow";
  d.concurrency = concurrency;
  d.retry.initial_backoff = 10s;
  d.retry.max_backoff = 80s;
  d.retry.max_age = 24h;
  return d;
}

std::string id_of(int i) { return "event-" + std::to_string(1000 + i); }

// One dispatcher, its destination, its store and the simulated clock.
struct Bench {
  explicit Bench(config::Destination d = destination(), bool shared = false) : dest(std::move(d)) {
    auto opened = storage::open_sqlite_store(storage::SqliteOptions{dir.file("queue.db")});
    if (!opened) FAIL("cannot open the store: " << opened.error().message);
    store = std::move(opened).value();
    auto s = std::make_unique<ScriptedSender>(io, clock);
    sender = s.get();
    Dispatcher::Collaborators parts;
    auto q = std::make_unique<StoreQueue>(*store, dest.name, &io);
    q->shared_queue = shared;
    queue = q.get();
    parts.queue = std::move(q);
    parts.sender = std::move(s);
    parts.clock = clock.delivery_clock();
    parts.unit_random = [] { return kFull; };
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(log_text);
    dispatcher = Dispatcher::assemble(io.get_executor(), dest, std::move(parts), metrics,
                                      std::make_shared<spdlog::logger>("dispatcher-test", sink));
  }
  ~Bench() {
    if (started && !draining) {
      begin_drain(Steady::now());
      end_drain();
    }
  }

  // Queues events 0..n-1 (one millisecond apart, the oldest first).
  void queue_events(int n) {
    std::vector<storage::NewEvent> events;
    for (int i = 0; i < n; ++i) {
      storage::NewEvent e;
      e.event_id = id_of(queued_ + i);
      e.body = "{\"eventID\":\"" + e.event_id + "\"}";
      e.destinations = {dest.name};
      e.received_at = clock.millis() - n + i;
      events.push_back(std::move(e));
    }
    queued_ += n;
    auto inserted = store->insert_batch(events);
    if (!inserted) FAIL("insert failed: " << inserted.error().message);
  }

  void start() {
    dispatcher->start();
    started = true;
    settle();
  }
  // Runs what is ready; only timers (in real time) are left.
  void settle() {
    io.restart();
    while (io.poll() > 0) {
    }
  }
  // Simulated time passes; the dispatcher is told to look again.
  void advance(Duration d) {
    clock.advance(d);
    dispatcher->notify();
    settle();
  }
  void answer(Answer a) {
    sender->answer(std::move(a));
    settle();
  }

  // Starts drain(deadline) (the deadline in real time) and lets it begin.
  void begin_drain(Steady::time_point deadline) {
    draining = true;
    asio::co_spawn(
        io,
        [this, deadline]() -> asio::awaitable<void> {
          drained = co_await dispatcher->drain(deadline);
        },
        asio::detached);
    settle();
  }
  // Runs until the drain has ended; its result (nullopt: still running after 10 s).
  std::optional<bool> end_drain() {
    io.restart();
    const auto limit = Steady::now() + 10s;
    while (!drained && Steady::now() < limit) io.run_one_for(100ms);
    return drained;
  }

  storage::DestinationStats stats() {
    auto all = store->stats();
    REQUIRE(all);
    for (const auto& s : all.value())
      if (s.destination == dest.name) return s;
    storage::DestinationStats none;
    none.destination = dest.name;
    return none;
  }
  std::vector<storage::DeadLetter> dead_letters() {
    auto letters = store->dead_letters(100);
    REQUIRE(letters);
    return letters.value();
  }

  // A series of the /metrics text; 0 when absent.
  double metric(const std::string& series) const {
    std::istringstream in(registry.render());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
    }
    return 0;
  }
  double attempts(const std::string& outcome, const std::string& status_class) const {
    return metric("ocirelay_delivery_attempts_total{destination=\"oic\",outcome=\"" + outcome +
                  "\",status_class=\"" + status_class + "\"}");
  }
  double in_state(const std::string& state) const {
    return metric("ocirelay_destination_state{destination=\"oic\",state=\"" + state + "\"}");
  }
  std::string state() const { return dispatcher->state(); }
  // What the dispatcher reports for renewal, sorted.
  std::vector<std::int64_t> held_claims() const {
    std::vector<std::int64_t> claims;
    dispatcher->held_claims(claims);
    std::sort(claims.begin(), claims.end());
    return claims;
  }

  config::Destination dest;
  test::TempDir dir;
  SimClock clock;
  asio::io_context io;
  metrics::Registry registry;
  metrics::RelayMetrics metrics{registry, "test"};
  std::unique_ptr<storage::Store> store;
  std::ostringstream log_text;  // what the dispatcher logged
  ScriptedSender* sender = nullptr;
  StoreQueue* queue = nullptr;  // owned by the dispatcher
  std::unique_ptr<Dispatcher> dispatcher;
  bool started = false;
  bool draining = false;
  std::optional<bool> drained;  // drain()'s result once it has ended

 private:
  int queued_ = 0;
};

}  // namespace

TEST_CASE("dispatcher: at most `concurrency` attempts in flight, oldest first", "[dispatcher]") {
  Bench bench(destination(3));
  bench.queue_events(12);
  bench.start();
  CHECK(bench.sender->held() == 3);
  for (int delivered = 0; delivered < 12; ++delivered) {
    bench.answer(status(202));
    CHECK(bench.sender->held() == static_cast<std::size_t>(std::min(3, 11 - delivered)));
  }
  CHECK(bench.sender->max_held == 3);
  std::vector<std::string> expected;
  for (int i = 0; i < 12; ++i) expected.push_back(id_of(i));
  CHECK(bench.sender->ids() == expected);
  CHECK(bench.attempts("delivered", "2xx") == 12);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);  // delivered rows are removed
  CHECK(bench.state() == "healthy");
}

TEST_CASE("dispatcher: a backlog larger than its buffer drains oldest first", "[dispatcher]") {
  Bench bench(destination(8));
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.queue_events(700);  // several fetches' worth
  bench.start();
  // Every answer comes at once; the dispatcher fetches again as its buffer
  // runs low.
  for (int i = 0; i < 50 && bench.sender->calls.size() < 700; ++i) bench.advance(0ms);
  std::vector<std::string> expected;
  for (int i = 0; i < 700; ++i) expected.push_back(id_of(i));
  CHECK(bench.sender->ids() == expected);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight == 0);
}

TEST_CASE("dispatcher: a failing destination pauses, probes once, and resumes", "[dispatcher]") {
  Bench bench(destination(4));  // initial_backoff 10s
  bench.queue_events(10);
  bench.start();
  REQUIRE(bench.sender->held() == 4);

  // All four fail; only the first failure counts: one pause of 10 s.
  bench.answer(status(503));
  CHECK(bench.state() == "paused");
  CHECK(bench.in_state("paused") == 1);
  CHECK(bench.in_state("healthy") == 0);
  for (int i = 0; i < 3; ++i) bench.answer(status(503));
  CHECK(bench.attempts("retry", "5xx") == 4);
  CHECK(bench.sender->calls.size() == 4);

  // Nothing is sent while the pause lasts.
  bench.advance(9999ms);
  CHECK(bench.state() == "paused");
  CHECK(bench.sender->calls.size() == 4);

  // Then one probe, and only one.
  bench.advance(1ms);
  CHECK(bench.state() == "probing");
  CHECK(bench.in_state("probing") == 1);
  CHECK(bench.sender->calls.size() == 5);
  CHECK(bench.sender->held() == 1);

  // The probe fails: a pause twice as long.
  bench.answer(status(503));
  CHECK(bench.state() == "paused");
  bench.advance(19'999ms);
  CHECK(bench.sender->calls.size() == 5);
  bench.advance(1ms);
  CHECK(bench.state() == "probing");
  CHECK(bench.sender->calls.size() == 6);

  // The probe succeeds: full concurrency again.
  bench.answer(status(202));
  CHECK(bench.state() == "healthy");
  CHECK(bench.in_state("healthy") == 1);
  CHECK(bench.sender->held() == 4);
  while (bench.sender->held() > 0) bench.answer(status(202));
  // Every event delivered once after the outage: the five that failed were
  // retried, none was lost or sent twice.
  CHECK(bench.attempts("delivered", "2xx") == 10);
  CHECK(bench.sender->calls.size() == 15);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher: a connection error pauses the destination like a 5xx", "[dispatcher]") {
  Bench bench(destination(2));
  bench.queue_events(3);
  bench.start();
  bench.answer(no_response());
  CHECK(bench.state() == "paused");
  CHECK(bench.attempts("retry", "error") == 1);
  bench.answer(status(202));  // one that was already in flight: the destination works
  CHECK(bench.state() == "healthy");
}

TEST_CASE("dispatcher: Retry-After holds a destination as long as it asks", "[dispatcher]") {
  auto d = destination(1);
  d.retry.initial_backoff = 1s;
  d.retry.max_backoff = 1min;
  Bench bench(d);
  bench.queue_events(3);
  bench.start();

  SECTION("in seconds") {
    bench.answer(status(429, {{"Retry-After", "30"}}));
    bench.advance(29'999ms);
    CHECK(bench.sender->calls.size() == 1);
    bench.advance(1ms);
    CHECK(bench.sender->calls.size() == 2);
  }
  SECTION("as an HTTP date, by the injected wall clock") {
    // kT0 + 45 s.
    bench.answer(status(503, {{"Retry-After", "Tue, 14 Nov 2023 22:14:05 GMT"}}));
    bench.advance(44'999ms);
    CHECK(bench.sender->calls.size() == 1);
    bench.advance(1ms);
    CHECK(bench.sender->calls.size() == 2);
  }
  SECTION("an hour: max_backoff") {
    bench.answer(status(503, {{"Retry-After", "3600"}}));
    bench.advance(59'999ms);
    CHECK(bench.sender->calls.size() == 1);
    bench.advance(1ms);
    CHECK(bench.sender->calls.size() == 2);
  }
  CHECK(bench.state() == "probing");
  bench.answer(status(202));
  CHECK(bench.state() == "healthy");
}

TEST_CASE("dispatcher: rate_limit spaces the starts in simulated time", "[dispatcher]") {
  auto d = destination(8);
  d.rate_limit = 4;  // one start every 250 ms
  Bench bench(d);
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.queue_events(6);
  bench.start();
  CHECK(bench.sender->calls.size() == 1);
  for (std::size_t sent = 1; sent < 6; ++sent) {
    bench.advance(249ms);
    CHECK(bench.sender->calls.size() == sent);
    bench.advance(1ms);
    CHECK(bench.sender->calls.size() == sent + 1);
  }
  const auto& calls = bench.sender->calls;
  for (std::size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].at - calls[i - 1].at == 250ms);
}

TEST_CASE("dispatcher: a retry is not sent before its time", "[dispatcher]") {
  // 400 retried (retry_on) says nothing about the destination: no pause, the
  // event's own next attempt time is what holds it back.
  auto d = destination(4);
  d.retry.retry_on = {400};
  Bench bench(d);
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(400) : status(202);
  };
  bench.queue_events(2);
  bench.start();
  CHECK(bench.state() == "healthy");
  CHECK(bench.sender->ids() == std::vector<std::string>{id_of(0), id_of(1)});
  bench.advance(9999ms);
  CHECK(bench.sender->calls.size() == 2);
  bench.advance(1ms);
  CHECK(bench.sender->ids() == std::vector<std::string>{id_of(0), id_of(1), id_of(0)});
  CHECK(bench.attempts("retry", "4xx") == 1);
  CHECK(bench.attempts("delivered", "2xx") == 2);
}

TEST_CASE("dispatcher: a status that cannot succeed is dead-lettered at once", "[dispatcher]") {
  Bench bench(destination(1));
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(400) : status(202);
  };
  bench.queue_events(3);
  bench.start();
  bench.advance(24h);
  CHECK(bench.sender->calls.size() == 3);  // never sent again
  CHECK(bench.state() == "healthy");       // and the destination is fine
  const auto letters = bench.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].event_id == id_of(0));
  CHECK(letters[0].last_status == 400);
  CHECK(letters[0].attempts == 1);
  CHECK(bench.attempts("dead", "4xx") == 1);
}

TEST_CASE("dispatcher: max_attempts dead-letters after the last attempt", "[dispatcher]") {
  auto d = destination(1);
  d.retry.max_attempts = 3;
  Bench bench(d);
  bench.sender->script = [](std::size_t, const std::string&) { return status(500); };
  bench.queue_events(1);
  bench.start();
  for (int i = 0; i < 10; ++i) bench.advance(1min);
  CHECK(bench.sender->calls.size() == 3);
  const auto letters = bench.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].attempts == 3);
  CHECK(letters[0].last_status == 500);
  CHECK(letters[0].last_error == "HTTP 500 (gave up: max_attempts 3 reached)");
  CHECK(bench.attempts("retry", "5xx") == 2);
  CHECK(bench.attempts("dead", "5xx") == 1);
}

TEST_CASE("dispatcher: a retry that would pass max_age is dead-lettered", "[dispatcher]") {
  auto d = destination(1);
  d.retry.initial_backoff = 10s;
  d.retry.max_backoff = 10s;
  d.retry.max_age = 30s;
  Bench bench(d);
  bench.sender->script = [](std::size_t, const std::string&) { return status(500); };
  bench.queue_events(1);  // queued 1 ms before the start
  bench.start();
  // Attempts at 0, 10 and 20 s; the one after 20 s would come at 30 s + 1 ms.
  for (int i = 0; i < 10; ++i) bench.advance(10s);
  CHECK(bench.sender->calls.size() == 3);
  const auto letters = bench.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].last_error == "HTTP 500 (gave up: older than max_age 30s)");
}

TEST_CASE("dispatcher: it reports the claims it holds until their results are recorded",
          "[dispatcher]") {
  Bench bench(destination(1));
  CHECK(bench.held_claims().empty());
  bench.queue_events(2);
  bench.start();
  REQUIRE(bench.sender->held() == 1);
  REQUIRE(bench.queue->last_claim() == 1);
  // One being sent, one waiting: both of claim 1.
  CHECK(bench.held_claims() == std::vector<std::int64_t>{1});
  bench.queue_events(2);
  bench.dispatcher->notify();
  bench.settle();
  REQUIRE(bench.queue->last_claim() == 2);
  CHECK(bench.held_claims() == std::vector<std::int64_t>{1, 2});

  // Claim 1's first result recorded: its other delivery still holds it.
  bench.answer(status(202));
  CHECK(bench.held_claims() == std::vector<std::int64_t>{1, 2});
  // Its second is a retry: back in the queue, no longer this relay's.
  bench.answer(status(503));
  CHECK(bench.held_claims() == std::vector<std::int64_t>{2});
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{1, 1});
  CHECK(bench.stats().pending == 1);

  // After the pause, the rest go (the retry under a new claim).
  bench.advance(10s);
  while (bench.sender->held() > 0) bench.answer(status(202));
  CHECK(bench.held_claims().empty());
  CHECK(bench.stats().pending + bench.stats().inflight == 0);
  const auto& claims = bench.queue->result_claims();
  REQUIRE(claims.size() == 5);
  CHECK(std::count(claims.begin(), claims.end(), 2) == 2);
  CHECK(claims.back() > 2);
}

TEST_CASE("dispatcher: drain lets attempts finish until the deadline, then aborts them",
          "[dispatcher]") {
  Bench bench(destination(2));
  bench.queue_events(3);
  bench.start();
  REQUIRE(bench.sender->held() == 2);
  bench.begin_drain(Steady::now() + 200ms);
  CHECK(bench.dispatcher->in_flight() == 2);
  CHECK(bench.sender->cancels == 0);
  // One answer comes in before the deadline: recorded. The other never does.
  bench.answer(status(202));
  CHECK(bench.attempts("delivered", "2xx") == 1);
  CHECK(bench.end_drain() == true);
  CHECK(bench.sender->cancels == 1);
  CHECK(bench.sender->calls.size() == 2);  // nothing new started once draining
  CHECK(bench.attempts("delivered", "2xx") == 1);
  CHECK(bench.attempts("retry", "error") == 0);  // the aborted one is not recorded
  // It stays inflight in storage (released at shutdown), with the one the
  // dispatcher had taken but not started.
  const auto left = bench.stats();
  CHECK(left.inflight == 2);
  CHECK(left.pending == 0);
  CHECK(left.dead == 0);
  CHECK(bench.dispatcher->in_flight() == 0);
}

// --- batching (destination batch: max_events > 1)

namespace {

config::Destination batching(unsigned max_events, std::uint64_t max_bytes = 50 * 1024,
                             unsigned concurrency = 4) {
  auto d = destination(concurrency);
  d.batch.max_events = max_events;
  d.batch.max_bytes = max_bytes;
  d.batch.max_wait = 1s;
  d.batch.envelope = "events";
  return d;
}

std::string body_of(const std::vector<int>& events) {
  std::string out = R"({"events":[)";
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"eventID\":\"" + id_of(events[i]) + "\"}";
  }
  return out + "]}";
}

std::string key_of(const std::vector<int>& events) {
  std::vector<std::string> ids;
  for (int i : events) ids.push_back(id_of(i));
  return batch_key(ids);
}

}  // namespace

TEST_CASE("dispatcher batching: full batches go at once, the rest after max_wait",
          "[dispatcher][batch]") {
  Bench bench(batching(4));
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.queue_events(10);
  bench.start();
  // Two full batches at once, oldest first; two events wait for more.
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.sender->calls[0].body == body_of({0, 1, 2, 3}));
  CHECK(bench.sender->calls[0].events == 4u);
  CHECK(bench.sender->calls[0].event_id == key_of({0, 1, 2, 3}));
  CHECK(bench.sender->calls[1].body == body_of({4, 5, 6, 7}));
  bench.advance(999ms);
  CHECK(bench.sender->calls.size() == 2);
  bench.advance(1ms);  // the oldest waiting has waited max_wait
  REQUIRE(bench.sender->calls.size() == 3);
  CHECK(bench.sender->calls[2].body == body_of({8, 9}));
  CHECK(bench.sender->calls[2].events == 2u);
  CHECK(bench.attempts("delivered", "2xx") == 10);
  CHECK(bench.metric(
            "ocirelay_delivery_requests_total{destination=\"oic\",status_class=\"2xx\"}") == 3);
  CHECK(bench.metric("ocirelay_delivered_events_total{destination=\"oic\"}") == 10);
  CHECK(bench.metric("ocirelay_oic_billed_messages_total{destination=\"oic\"}") == 3);
  CHECK(bench.metric("ocirelay_delivery_request_events_count{destination=\"oic\"}") == 3);
  CHECK(bench.metric("ocirelay_delivery_request_events_sum{destination=\"oic\"}") == 10);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher batching: under a trickle, the oldest event goes within max_wait",
          "[dispatcher][batch]") {
  Bench bench(batching(100));
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.start();
  // One event every 300 ms: the first three wait together; the batch goes
  // when the first has waited 1 s, with those that came meanwhile.
  bench.queue_events(1);
  bench.advance(0ms);
  const auto first_taken = bench.clock.steady;
  for (int i = 0; i < 3; ++i) {
    bench.advance(300ms);
    bench.queue_events(1);
    bench.advance(0ms);
  }
  CHECK(bench.sender->calls.empty());  // 900 ms
  bench.advance(100ms);
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.sender->calls[0].at - first_taken == 1s);
  CHECK(bench.sender->calls[0].body == body_of({0, 1, 2, 3}));
  // The next one starts its own wait.
  bench.advance(500ms);
  bench.queue_events(1);
  bench.advance(0ms);
  bench.advance(999ms);
  CHECK(bench.sender->calls.size() == 1);
  bench.advance(1ms);
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.sender->calls[1].body == body_of({4}));
  CHECK(bench.sender->calls[1].event_id == key_of({4}));
}

TEST_CASE("dispatcher batching: max_bytes is never exceeded, an oversized event goes alone",
          "[dispatcher][batch]") {
  // Each test event is 24 bytes ({"eventID":"event-1000"}); the envelope 13.
  // 13 + 24 + 25 * 3 = 112: four events fit in 112 bytes, not in 111.
  Bench bench(batching(100, 111));
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.queue_events(7);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.sender->calls[0].body == body_of({0, 1, 2}));
  CHECK(bench.sender->calls[1].body == body_of({3, 4, 5}));
  for (const auto& c : bench.sender->calls) CHECK(c.body.size() <= 111);
  bench.advance(1s);
  REQUIRE(bench.sender->calls.size() == 3);
  CHECK(bench.sender->calls[2].body == body_of({6}));
  CHECK(bench.metric("ocirelay_batch_oversized_events_total{destination=\"oic\"}") == 0);

  // An event larger than max_bytes alone: sent alone, counted.
  auto d = batching(100, 36);
  Bench big(d);
  big.sender->script = [](std::size_t, const std::string&) { return status(202); };
  big.queue_events(2);
  big.start();
  REQUIRE(big.sender->calls.size() == 2);
  CHECK(big.sender->calls[0].body == body_of({0}));
  CHECK(big.sender->calls[0].events == 1u);
  CHECK(big.sender->calls[1].body == body_of({1}));
  CHECK(big.metric("ocirelay_batch_oversized_events_total{destination=\"oic\"}") == 2);
  CHECK(big.attempts("delivered", "2xx") == 2);
}

TEST_CASE("dispatcher batching: a retryable failure retries the same batch with the same key",
          "[dispatcher][batch]") {
  Bench bench(batching(3, 50 * 1024, 1));
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(503) : status(202);
  };
  bench.queue_events(5);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.sender->calls[0].body == body_of({0, 1, 2}));
  CHECK(bench.state() == "paused");
  // Meanwhile the rows stay taken: nothing of that batch is in the queue.
  CHECK(bench.stats().inflight == 5);
  bench.advance(9999ms);  // initial_backoff 10 s
  CHECK(bench.sender->calls.size() == 1);
  bench.advance(1ms);
  REQUIRE(bench.sender->calls.size() >= 2);
  CHECK(bench.sender->calls[1].body == bench.sender->calls[0].body);
  CHECK(bench.sender->calls[1].event_id == bench.sender->calls[0].event_id);
  CHECK(bench.sender->calls[1].event_id == key_of({0, 1, 2}));
  bench.advance(1s);
  REQUIRE(bench.sender->calls.size() == 3);
  CHECK(bench.sender->calls[2].body == body_of({3, 4}));
  CHECK(bench.attempts("retry", "5xx") == 3);
  CHECK(bench.attempts("delivered", "2xx") == 5);
  CHECK(bench.metric("ocirelay_delivery_attempts_sum{destination=\"oic\"}") == 2 * 3 + 2);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher batching: a batch held for its retry keeps its claim reported",
          "[dispatcher][batch]") {
  Bench bench(batching(3, 50 * 1024, 1));
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(503) : status(202);
  };
  bench.queue_events(3);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 1);
  // Sent, failed, held in memory for its retry: its rows are still this
  // relay's, so their claim must stay renewed.
  CHECK(bench.stats().inflight == 3);
  CHECK(bench.held_claims() == std::vector<std::int64_t>{1});
  CHECK(bench.queue->result_claims().empty());
  bench.advance(10s);
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.held_claims().empty());
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{1, 1, 1});
}

TEST_CASE("dispatcher batching: a batch's results are recorded in one transaction",
          "[dispatcher][batch]") {
  Bench bench(batching(50, 50 * 1024, 1));
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.queue_events(50);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.sender->calls[0].events == 50u);
  CHECK(bench.attempts("delivered", "2xx") == 50);
  CHECK(bench.queue->completions() == 1);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher batching: a dead-letter answer dead-letters each event on its own",
          "[dispatcher][batch]") {
  Bench bench(batching(3));
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(400) : status(202);
  };
  bench.queue_events(3);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 1);
  const auto letters = bench.dead_letters();
  REQUIRE(letters.size() == 3);
  std::vector<std::string> ids;
  for (const auto& l : letters) {
    ids.push_back(l.event_id);
    CHECK(l.last_status == 400);
    CHECK(l.attempts == 1);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{id_of(0), id_of(1), id_of(2)});
  CHECK(bench.attempts("dead", "4xx") == 3);
  CHECK(bench.state() == "healthy");
}

TEST_CASE("dispatcher batching: batches held for retries do not pull the backlog into memory",
          "[dispatcher][batch]") {
  // 409 in retry_on: retried, but not a destination failure, so the
  // destination never pauses and the dispatcher keeps taking new work.
  auto d = batching(10, 50 * 1024, 4);
  d.retry.retry_on = {409};
  Bench bench(d);
  bench.sender->script = [](std::size_t, const std::string&) { return status(409); };
  bench.queue_events(2000);
  bench.start();
  for (int i = 0; i < 20; ++i) bench.advance(1s);
  CHECK(bench.state() == "healthy");
  CHECK(bench.sender->calls.size() > 10);
  // The buffer's room (128 deliveries here) bounds what is taken, held
  // batches included; the rest stays queued in storage.
  const auto left = bench.stats();
  CHECK(left.inflight <= 128);
  CHECK(left.pending >= 2000 - 128);
}

TEST_CASE("dispatcher batching: at stop, a batch held for its retry goes back to storage",
          "[dispatcher][batch]") {
  Bench bench(batching(3, 50 * 1024, 1));
  bench.sender->script = [](std::size_t, const std::string&) { return status(500); };
  bench.queue_events(1);
  bench.start();
  bench.advance(1s);
  REQUIRE(bench.sender->calls.size() == 1);
  // Stopping records the held batch back in storage as a retry (attempts 1).
  bench.begin_drain(Steady::now() + 5s);
  CHECK(bench.end_drain() == true);
  auto left = bench.stats();
  CHECK(left.pending == 1);
  CHECK(left.inflight == 0);
}

TEST_CASE("dispatcher batching: an event past max_age leaves the batch as a dead letter",
          "[dispatcher][batch]") {
  auto d = batching(3, 50 * 1024, 1);
  d.retry.initial_backoff = 10s;
  d.retry.max_backoff = 10s;
  d.retry.max_age = 30s;
  Bench bench(d);
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(500) : status(202);
  };
  bench.queue_events(1);
  bench.clock.advance(25s);  // event 0 is 25 s old when event 1 comes
  bench.queue_events(1);
  bench.start();
  bench.advance(1s);
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.sender->calls[0].body == body_of({0, 1}));
  // Event 0's retry would come past max_age: dead; event 1 goes on alone,
  // a batch of its own with its own key.
  const auto letters = bench.dead_letters();
  REQUIRE(letters.size() == 1);
  CHECK(letters[0].event_id == id_of(0));
  CHECK(letters[0].last_error == "HTTP 500 (gave up: older than max_age 30s)");
  bench.advance(10s);
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.sender->calls[1].body == body_of({1}));
  CHECK(bench.sender->calls[1].event_id == key_of({1}));
  CHECK(bench.attempts("delivered", "2xx") == 1);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight == 0);
  CHECK(left.dead == 1);
}

TEST_CASE("dispatcher: in real time, a retry comes back when due without a notify",
          "[dispatcher]") {
  // The one test on the real clock: the dispatcher's own timer must wake it
  // for a retry. Backoffs of milliseconds keep it short.
  auto d = destination(1);
  d.retry.initial_backoff = 20ms;
  d.retry.max_backoff = 40ms;
  test::TempDir dir;
  auto store = storage::open_sqlite_store(storage::SqliteOptions{dir.file("queue.db")});
  REQUIRE(store);
  asio::io_context io;
  SimClock unused;
  auto sender = std::make_unique<ScriptedSender>(io, unused);
  auto* calls = &sender->calls;
  sender->script = [](std::size_t i, const std::string&) {
    return i < 2 ? status(503) : status(202);
  };
  metrics::Registry registry;
  metrics::RelayMetrics metrics(registry, "test");
  Dispatcher::Collaborators parts;
  parts.queue = std::make_unique<StoreQueue>(*store.value(), d.name);
  parts.sender = std::move(sender);
  auto dispatcher = Dispatcher::assemble(io.get_executor(), d, std::move(parts), metrics,
                                         std::make_shared<spdlog::logger>("dispatcher-test"));
  storage::NewEvent e;
  e.event_id = "event-1";
  e.body = "{}";
  e.destinations = {d.name};
  e.received_at = storage::now_millis();
  REQUIRE(store.value()->insert_batch(std::span<const storage::NewEvent>(&e, 1)));
  dispatcher->start();
  const auto limit = Steady::now() + 10s;
  while (calls->size() < 3 && Steady::now() < limit) io.run_one_for(50ms);
  CHECK(calls->size() == 3);
  std::optional<bool> joined;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { joined = co_await dispatcher->drain(Steady::now()); },
      asio::detached);
  while (!joined && Steady::now() < limit) io.run_one_for(50ms);
  CHECK(joined == true);
  CHECK(dispatcher->state() == std::string("healthy"));
}

// --- a queue several relays share (claims that run out, batches to retry)

TEST_CASE("dispatcher shared queue: a delivery claimed again while in flight is not sent twice",
          "[dispatcher][shared]") {
  Bench bench(destination(3), true);
  bench.queue_events(2);
  bench.start();
  REQUIRE(bench.sender->held() == 2);
  REQUIRE(bench.held_claims() == std::vector<std::int64_t>{1});
  // No renewal for longer than the lease: both claims run out while the two
  // requests are under way, and the next fetch (a round ahead) claims them
  // again.
  bench.queue->lapse();
  bench.advance(0ms);
  CHECK(bench.queue->last_claim() == 2);
  CHECK(bench.sender->calls.size() == 2);
  CHECK(bench.sender->ids() == std::vector<std::string>{id_of(0), id_of(1)});
  // The copies in flight go on under the new claim, which is renewed.
  CHECK(bench.held_claims() == std::vector<std::int64_t>{2});
  CHECK(bench.stats().inflight == 2);

  // Event 0's retry applies under its current claim: back in the queue.
  bench.answer(status(500));
  CHECK(bench.queue->stale_results() == 0);
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{2});
  CHECK(bench.stats().pending == 1);
  CHECK(bench.held_claims() == std::vector<std::int64_t>{2});  // event 1's
  bench.answer(status(202));
  CHECK(bench.held_claims().empty());
  CHECK(bench.sender->calls.size() == 2);
  const auto left = bench.stats();
  CHECK(left.inflight == 0);
  CHECK(left.pending == 1);
}

TEST_CASE("dispatcher shared queue: a result recorded while its row is claimed again follows",
          "[dispatcher][shared]") {
  Bench bench(destination(2), true);
  bench.queue_events(1);
  bench.start();
  REQUIRE(bench.sender->held() == 1);
  bench.queue->hold_completions = true;
  bench.answer(status(400));  // dead-lettered: recorded under claim 1
  REQUIRE(bench.queue->held_completions() == 1);
  // Meanwhile the claim runs out and a fetch takes the row again.
  bench.queue->lapse();
  bench.advance(0ms);
  REQUIRE(bench.queue->last_claim() == 2);
  CHECK(bench.held_claims() == std::vector<std::int64_t>{2});
  CHECK(bench.sender->calls.size() == 1);
  // Claim 1's result applies to nothing; it is recorded again under claim 2.
  bench.queue->hold_completions = false;
  bench.queue->release_completions();
  bench.settle();
  CHECK(bench.queue->stale_results() == 1);
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{1, 2});
  CHECK(bench.held_claims().empty());
  const auto left = bench.stats();
  CHECK(left.inflight == 0);
  CHECK(left.dead == 1);
  CHECK(bench.sender->calls.size() == 1);
}

TEST_CASE("dispatcher shared queue: events waiting for their batch are not batched twice",
          "[dispatcher][shared][batch]") {
  Bench bench(batching(4, 50 * 1024, 1), true);
  bench.queue_events(2);
  bench.start();
  CHECK(bench.sender->calls.empty());  // waiting for max_wait
  REQUIRE(bench.held_claims() == std::vector<std::int64_t>{1});
  bench.queue->lapse();
  bench.advance(500ms);
  REQUIRE(bench.queue->last_claim() == 2);
  CHECK(bench.held_claims() == std::vector<std::int64_t>{2});
  bench.sender->script = [](std::size_t, const std::string&) { return status(202); };
  bench.advance(500ms);
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.sender->calls[0].body == body_of({0, 1}));
  CHECK(bench.sender->calls[0].event_id == key_of({0, 1}));
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{2, 2});
  CHECK(bench.held_claims().empty());
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher shared queue: a batch to be retried goes back to the queue",
          "[dispatcher][shared][batch]") {
  Bench bench(batching(3, 50 * 1024, 1), true);
  bench.sender->script = [](std::size_t i, const std::string&) {
    return i == 0 ? status(503) : status(202);
  };
  bench.queue_events(3);
  bench.start();
  REQUIRE(bench.sender->calls.size() == 1);
  CHECK(bench.state() == "paused");
  // Not held by this relay: pending for any relay, with the attempt counted,
  // due when the batch would have been retried.
  auto left = bench.stats();
  CHECK(left.pending == 3);
  CHECK(left.inflight == 0);
  CHECK(bench.held_claims().empty());
  CHECK(bench.queue->result_claims() == std::vector<std::int64_t>{1, 1, 1});
  CHECK(bench.queue->completions() == 1);
  auto due = bench.store->fetch_due("oic", bench.clock.millis(), 10);
  REQUIRE(due);
  CHECK(due->due.empty());
  REQUIRE(due->next_due.has_value());
  CHECK(*due->next_due > bench.clock.millis() + 9000);
  CHECK(*due->next_due <= bench.clock.millis() + 10000);
  // This relay takes them again after its pause: the same events, the same key.
  bench.advance(10s);
  REQUIRE(bench.sender->calls.size() == 2);
  CHECK(bench.sender->calls[1].event_id == key_of({0, 1, 2}));
  CHECK(bench.sender->calls[1].body == body_of({0, 1, 2}));
  CHECK(bench.queue->last_claim() == 2);
  left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
  CHECK(bench.metric("ocirelay_delivery_attempts_sum{destination=\"oic\"}") == 2 * 3);
}

TEST_CASE("dispatcher: while stopping, a result storage fails to record is tried again",
          "[dispatcher]") {
  Bench bench(destination(1));
  bench.queue_events(1);
  bench.start();
  REQUIRE(bench.sender->held() == 1);
  bench.begin_drain(Steady::now() + 10s);
  bench.queue->failing_completions = 2;
  bench.answer(status(202));
  CHECK(bench.end_drain() == true);
  CHECK(bench.queue->failed_completions() == 2);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
  CHECK(bench.log_text.str().find("possible duplicate") == std::string::npos);
}

TEST_CASE("dispatcher: a 2xx never recorded by the shutdown deadline is logged as a duplicate",
          "[dispatcher]") {
  Bench bench(destination(2));
  bench.queue_events(2);
  bench.start();
  REQUIRE(bench.sender->held() == 2);
  bench.begin_drain(Steady::now() + 300ms);
  bench.queue->failing_completions = 1000;
  bench.answer(status(202));
  bench.answer(status(503));
  CHECK(bench.end_drain() == true);
  const auto left = bench.stats();
  CHECK(left.inflight == 2);  // stays queued: released before storage closes
  const std::string log = bench.log_text.str();
  const auto line_at = log.find("possible duplicate delivery of event(s) " + id_of(0));
  REQUIRE(line_at != std::string::npos);
  const std::string line = log.substr(line_at, log.find('\n', line_at) - line_at);
  CHECK(line.find(id_of(1)) == std::string::npos);  // the retry is not a duplicate
}

TEST_CASE("dispatcher: on a shared queue it claims one round ahead, in rounds", "[dispatcher]") {
  Bench bench(destination(4));
  bench.queue->shared_queue = true;
  bench.queue_events(20);
  bench.start();
  // Four sent, four claimed to follow them; the rest left to other relays.
  CHECK(bench.sender->held() == 4);
  CHECK(bench.queue->fetch_limits == std::vector<std::size_t>{8});
  CHECK(bench.stats().inflight == 8);
  CHECK(bench.stats().pending == 12);
  // Each answer sends one that waited; no claim while the next round is held.
  for (int i = 0; i < 3; ++i) bench.answer(status(202));
  CHECK(bench.sender->held() == 4);
  CHECK(bench.queue->fetch_limits.size() == 1);
  // The last one that waited goes out: one claim for the next round.
  bench.answer(status(202));
  CHECK(bench.queue->fetch_limits == std::vector<std::size_t>{8, 4});
  CHECK(bench.stats().inflight == 8);
  while (bench.sender->held() > 0) bench.answer(status(202));
  CHECK(bench.sender->calls.size() == 20);
  // One claim per round of four, not one per answer.
  CHECK(bench.queue->fetch_limits.size() <= 6);
  const auto left = bench.stats();
  CHECK(left.pending + left.inflight + left.dead == 0);
}

TEST_CASE("dispatcher: on a shared queue a paused destination gives back what waits",
          "[dispatcher]") {
  Bench bench(destination(4));  // initial_backoff 10s
  bench.queue->shared_queue = true;
  bench.queue_events(20);
  bench.start();
  REQUIRE(bench.sender->held() == 4);
  REQUIRE(bench.stats().inflight == 8);
  // The destination fails: paused, and the four waiting go back, due as they
  // were (first attempts), untouched by this relay; the four sent are retries.
  bench.answer(status(503));
  CHECK(bench.state() == "paused");
  for (int i = 0; i < 3; ++i) bench.answer(status(503));
  const auto paused = bench.stats();
  CHECK(paused.inflight == 0);
  CHECK(paused.pending == 20);
  CHECK(bench.held_claims().empty());
  CHECK(bench.sender->calls.size() == 4);
  // Due now: another relay would take them (here, a fetch as of now).
  auto due = bench.store->fetch_due("oic", bench.clock.millis(), 100);
  REQUIRE(due);
  REQUIRE(due->due.size() == 16);
  CHECK(due->due[0].event_id == id_of(4));
  CHECK(due->due[0].attempts == 0);
  REQUIRE(bench.store->release_inflight());  // that relay let them go again
  // Nothing is claimed while paused; after the pause, a probe.
  bench.advance(9999ms);
  CHECK(bench.sender->calls.size() == 4);
  bench.advance(1ms);
  CHECK(bench.state() == "probing");
  CHECK(bench.sender->calls.size() == 5);
}
