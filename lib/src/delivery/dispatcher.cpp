#include "ocirelay/delivery/dispatcher.hpp"

#include <algorithm>
#include <deque>
#include <random>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/common/exception_text.hpp"
#include "ocirelay/common/printable_text.hpp"
#include "ocirelay/common/task_group.hpp"
#include "ocirelay/delivery/attempt_plan.hpp"
#include "ocirelay/delivery/backoff.hpp"
#include "ocirelay/delivery/batch_body.hpp"
#include "ocirelay/delivery/batch_plan.hpp"
#include "ocirelay/delivery/destination_health.hpp"
#include "ocirelay/delivery/event_sender.hpp"
#include "ocirelay/delivery/rate_limiter.hpp"
#include "ocirelay/delivery/storage_delivery_queue.hpp"
#include "ocirelay/http/client.hpp"

namespace ocirelay::delivery {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

using Health = DestinationHealth::State;
// With nothing known to be due, look again this often anyway.
constexpr Duration kIdlePoll = 60s;
constexpr Duration kStorageRetry = 1s;
// Stopping: results not yet recorded are tried again this often until the
// drain deadline.
constexpr Duration kStoppingStorageRetry = 100ms;
// After an abort, how long the aborted tasks may take to end: they only wait
// for storage answers by then.
constexpr Duration kAbortGrace = 2s;

// How long from `now` until `at`, in whole milliseconds rounded up.
Duration until(Clock::time_point at, Clock::time_point now) {
  return std::chrono::ceil<Duration>(at - now);
}

// A short, printable excerpt of a response body for the last-error column:
// valid UTF-8 whatever the body (PostgreSQL refuses anything else).
std::string excerpt(std::string_view body) { return printable_text(body, 200); }

// What an attempt's answer says: its status (none when there was no
// answer), the Retry-After asked for, and an error text unless it is 2xx.
struct Answered {
  std::optional<int> status;
  std::optional<Duration> retry_after;
  std::string error;
  // "HTTP 503", or the error when there was no answer.
  std::string status_text() const { return status ? "HTTP " + std::to_string(*status) : error; }
};

Answered read_answer(const Result<http::ClientResponse, http::ClientError>& response,
                     std::chrono::system_clock::time_point now) {
  Answered a;
  if (!response) {
    a.error = response.error().message;
    return a;
  }
  const int status = response->status;
  a.status = status;
  if (status == 429 || status == 503) {
    if (auto header = response->headers.get("Retry-After")) {
      a.retry_after = parse_retry_after(*header, now);
    }
  }
  if (status < 200 || status > 299) {
    a.error = "HTTP " + std::to_string(status);
    if (!response->body.empty()) a.error += ": " + excerpt(response->body);
  }
  return a;
}

// A delivery taken from storage, its body shaped, waiting to be sent.
struct Waiting {
  storage::Delivery d;      // d.body: as the destination receives it alone
  Clock::time_point since;  // when the dispatcher took it (steady)
};

// Several deliveries sent as one request, and retried as one.
struct Batch {
  std::vector<storage::Delivery> deliveries;  // bodies shaped; attempts made so far
  std::string key;                            // batch_key() of their event IDs
  std::string body;                           // BatchBody
  // While held for a retry: when it is due (wall clock), and the last result.
  storage::Millis due_at = 0;
  int last_status = 0;
  std::string last_error;
};

}  // namespace

class Dispatcher::Impl {
 public:
  Impl(asio::any_io_executor ex, const config::Destination& destination, Collaborators parts,
       metrics::RelayMetrics& metrics, std::shared_ptr<spdlog::logger> log)
      : ex_(std::move(ex)),
        dest_(destination),
        queue_(std::move(parts.queue)),
        sender_(std::move(parts.sender)),
        clock_(std::move(parts.clock)),
        unit_random_(std::move(parts.unit_random)),
        metrics_(metrics),
        log_(std::move(log)),
        wake_timer_(ex_),
        tasks_(ex_,
               [log = log_, name = dest_.name](std::exception_ptr e, const std::string& task) {
                 log->critical("{}: {} ended by an exception: {}", name, task, exception_text(e));
               }),
        health_(dest_.retry),
        rate_(dest_.rate_limit, clock_.steady_now()) {
    if (!unit_random_) {
      unit_random_ = [rng = std::mt19937_64(std::random_device{}())]() mutable {
        return std::uniform_real_distribution<double>(0, 1)(rng);
      };
    }
    concurrency_ = std::max(1u, dest_.concurrency);
    // Room for a few storage round trips' worth of deliveries, so that the
    // next fetch is under way before the buffer runs dry; when batching, for
    // a few whole batches.
    capacity_ = std::max<std::size_t>(128, 8 * concurrency_);
    if (batching()) capacity_ = std::max<std::size_t>(capacity_, 4 * dest_.batch.max_events);
    publish_health();
  }

  const std::string& name() const { return dest_.name; }
  const char* state() const { return health_.name(); }
  std::size_t in_flight() const { return in_flight_; }

  // Appends the claim tokens of the deliveries held (each once, ascending).
  void held_claims(std::vector<std::int64_t>& out) const {
    const auto first = static_cast<std::ptrdiff_t>(out.size());
    for (const auto& [id, held] : holding_) {
      if (held.claim != 0) out.push_back(held.claim);
    }
    std::sort(out.begin() + first, out.end());
    out.erase(std::unique(out.begin() + first, out.end()), out.end());
  }

  void start() { tasks_.spawn(run(), "queue loop"); }

  void notify() {
    new_work_ = true;
    wake();
  }

  void stop() {
    stopping_ = true;
    wake();
  }

  // Joins everything this dispatcher runs: the queue loop (which may be
  // taking rows from storage) and the deliveries, recorded or not. Several
  // drains may wait at once (a reload's, then the shutdown's); the first to
  // reach its deadline, or to be cancelled, aborts what is left.
  asio::awaitable<bool> drain(Clock::time_point deadline) {
    stop();
    if (co_await tasks_.join_until(deadline)) co_return true;
    // Past the deadline, or forced (the drain itself was cancelled): abort.
    co_await asio::this_coro::reset_cancellation_state();
    abort();
    const bool joined = co_await tasks_.join_until(Clock::now() + kAbortGrace);
    if (!joined) {
      log_->error("{}: {} task(s) still running {} after they were aborted", dest_.name,
                  tasks_.size(), format_duration(kAbortGrace));
    }
    co_return joined;
  }

 private:
  // The aborted deliveries record nothing and stay inflight in storage; every
  // wait of this dispatcher's tasks completes at once.
  void abort() {
    if (aborted_) return;
    aborted_ = true;
    if (in_flight_ > 0) {
      log_->warn(
          "{}: {} delivery(ies) still in flight at the shutdown deadline; aborted, they "
          "stay queued",
          dest_.name, in_flight_);
    }
    sender_->cancel();
    tasks_.cancel(asio::cancellation_type::terminal);
  }

  void wake() {
    woken_ = true;
    wake_timer_.cancel();
  }

  asio::awaitable<void> run() {
    while (!stopping_) {
      const auto now = clock_.steady_now();
      if (health_.update(now)) {
        publish_health();
        log_->info("destination {}: pause over; probing with one request", dest_.name);
      }
      // Healthy: full concurrency. Probing: one request at a time. Paused: none.
      // (Read again after each start: an attempt that is answered at once may
      // already have paused the destination.)
      std::optional<Clock::time_point> next_token;
      std::optional<Clock::time_point> ripe_at;  // batching: a batch waits until then
      while (in_flight_ < health_.limit(concurrency_)) {
        if (batching() ? !batch_ready(now, ripe_at) : buffer_.empty()) break;
        if (!rate_.try_take(now)) {
          next_token = rate_.next_token_at(now);
          break;
        }
        if (batching()) {
          start_batch(take_batch());
        } else {
          start_delivery(std::move(buffer_.front().d));
          buffer_.pop_front();
        }
      }
      // A queue other relays share, and this relay cannot send for a while:
      // what waits here goes back to storage as it was, for the other relays.
      if (queue_->shared() && health_.state() == Health::paused && !buffer_.empty()) {
        co_await give_back_waiting();
        continue;
      }
      // A queue other relays share: claim only what can be sent now and one
      // round more (none while paused), so that what this relay cannot send
      // soon goes to them; and claim once the next round is no longer all
      // held, rather than one delivery per slot freed (each claim is a
      // transaction). When batching, each request slot carries up to
      // max_events.
      // Batches held for their retry count against the buffer's room, so that
      // a destination that keeps asking for retries (e.g. 409 in retry_on)
      // without ever pausing cannot pull the whole backlog into memory.
      const std::size_t waiting = buffer_.size() + held_events();
      const std::size_t per_request = batching() ? dest_.batch.max_events : 1;
      const std::size_t can_send = health_.limit(concurrency_) * per_request;
      const std::size_t holding = in_flight_ * per_request + waiting;
      const std::size_t room = capacity_ > waiting ? capacity_ - waiting : 0;
      const std::size_t ahead = 2 * can_send;
      const std::size_t want = !queue_->shared()     ? room
                               : can_send >= holding ? std::min(room, ahead - holding)
                                                     : 0;
      if (new_work_ && waiting < capacity_ / 2 && want > 0) {
        new_work_ = false;
        auto fetched = co_await queue_->fetch_due(clock_.millis(), want);
        if (!fetched) {
          log_->error("{}: cannot read the queue: {}", dest_.name, fetched.error().message);
          new_work_ = true;
          co_await sleep(kStorageRetry);
          continue;
        }
        next_due_ = fetched->next_due;
        if (fetched->due.size() == want) new_work_ = true;  // there may be more
        const auto taken = clock_.steady_now();
        for (auto& d : fetched->due) {
          if (!hold(d)) continue;  // already here: not sent a second time
          d.body = sender_->shape(d.body);
          buffer_.push_back(Waiting{std::move(d), taken});
        }
        continue;
      }
      if (woken_) {
        woken_ = false;
        continue;
      }
      Duration wait = kIdlePoll;
      if (next_due_) {
        wait = std::clamp<Duration>(Duration(*next_due_ - clock_.millis()), 10ms, kIdlePoll);
      }
      if (health_.state() == Health::paused &&
          (!buffer_.empty() || !held_.empty() || queue_->shared())) {
        wait = std::clamp<Duration>(until(health_.paused_until(), clock_.steady_now()), 1ms, wait);
      }
      if (next_token) {
        wait = std::clamp<Duration>(until(*next_token, clock_.steady_now()), 1ms, wait);
      }
      if (ripe_at) {
        wait = std::clamp<Duration>(until(*ripe_at, clock_.steady_now()), 1ms, wait);
      }
      for (const Batch& b : held_) {
        wait = std::clamp<Duration>(Duration(b.due_at - clock_.millis()), 1ms, wait);
      }
      wake_timer_.expires_after(wait);
      auto [ec] = co_await wake_timer_.async_wait(nothrow);
      woken_ = false;
      if (!ec) new_work_ = true;  // the wait ran out: something may be due now
    }
    co_await record_held();
    // What waits unsent stays inflight in storage until the relay releases
    // it (at stop, or for a destination a reload retired); its claims are no
    // longer renewed.
    for (const Waiting& w : buffer_) let_go(w.d.id);
    buffer_.clear();
  }

  bool batching() const { return dest_.batch.enabled(); }

  // Events in batches held for their retry.
  std::size_t held_events() const {
    std::size_t n = 0;
    for (const Batch& b : held_) n += b.deliveries.size();
    return n;
  }

  // Batching: whether a batch may start now: a held batch whose retry is
  // due, or a batch of waiting events that is full or whose oldest event has
  // waited max_wait. Otherwise `ripe_at` says when the waiting ones will be.
  bool batch_ready(Clock::time_point now, std::optional<Clock::time_point>& ripe_at) {
    const storage::Millis wall = clock_.millis();
    for (const Batch& b : held_) {
      if (b.due_at <= wall) return true;
    }
    if (buffer_.empty()) return false;
    const Clock::time_point ripe = buffer_.front().since + dest_.batch.max_wait;
    if (now >= ripe || cut_next().full) return true;
    ripe_at = ripe;
    return false;
  }

  BatchCut cut_next() const {
    const std::size_t n = std::min<std::size_t>(buffer_.size(), dest_.batch.max_events + 1);
    std::vector<std::size_t> sizes;
    sizes.reserve(n);
    for (std::size_t i = 0; i < n; ++i) sizes.push_back(buffer_[i].d.body.size());
    return cut_batch(dest_.batch, sizes, BatchBody(dest_.batch.envelope).size());
  }

  // The batch batch_ready() found: a held one that is due, else the next cut
  // of the waiting events.
  Batch take_batch() {
    const storage::Millis wall = clock_.millis();
    for (auto it = held_.begin(); it != held_.end(); ++it) {
      if (it->due_at <= wall) {
        Batch b = std::move(*it);
        held_.erase(it);
        return b;
      }
    }
    const BatchCut cut = cut_next();
    std::vector<storage::Delivery> deliveries;
    deliveries.reserve(cut.count);
    for (std::size_t i = 0; i < cut.count; ++i) {
      deliveries.push_back(std::move(buffer_.front().d));
      buffer_.pop_front();
    }
    Batch b = make_batch(std::move(deliveries));
    if (cut.oversized) {
      metrics_.batch_oversized(dest_.name);
      log_->warn("event {} to {}: {} bytes, more than batch max_bytes {}; sent alone",
                 b.deliveries.front().event_id, dest_.name, b.deliveries.front().body.size(),
                 dest_.batch.max_bytes);
    }
    return b;
  }

  Batch make_batch(std::vector<storage::Delivery> deliveries) const {
    Batch b;
    BatchBody body(dest_.batch.envelope);
    std::vector<std::string> ids;
    ids.reserve(deliveries.size());
    for (const auto& d : deliveries) {
      body.add(d.body);
      ids.push_back(d.event_id);
    }
    b.body = body.take();
    b.key = batch_key(std::move(ids));
    b.deliveries = std::move(deliveries);
    return b;
  }

  // The deliveries waiting in the buffer (not attempted by this relay) go
  // back to storage as they were (Kind::released: attempts, due time and
  // last error untouched), for any relay to take.
  asio::awaitable<void> give_back_waiting() {
    std::deque<Waiting> waiting = std::move(buffer_);
    buffer_.clear();
    std::vector<storage::AttemptResult> results;
    results.reserve(waiting.size());
    for (const Waiting& w : waiting) {
      storage::AttemptResult result;
      result.id = w.d.id;
      result.claim = claim_of(w.d);
      result.kind = storage::AttemptResult::Kind::released;
      result.attempts = w.d.attempts;
      results.push_back(std::move(result));
    }
    log_->info("{} paused: {} waiting delivery(ies) given back to the queue for other relays",
               dest_.name, results.size());
    const std::string what = std::to_string(waiting.size()) + " waiting deliveries";
    co_await record(std::move(results), what);
  }

  // At stop: the batches held for a retry go back to storage as retries, due
  // when they would have been sent, with the attempts they have had.
  asio::awaitable<void> record_held() {
    std::vector<Batch> held = std::move(held_);
    held_.clear();
    for (const Batch& b : held) {
      std::vector<storage::AttemptResult> results;
      results.reserve(b.deliveries.size());
      for (const auto& d : b.deliveries) {
        storage::AttemptResult result;
        result.id = d.id;
        result.claim = claim_of(d);
        result.kind = storage::AttemptResult::Kind::retry;
        result.attempts = d.attempts;
        result.next_attempt_at = b.due_at;
        result.last_status = b.last_status;
        result.last_error = b.last_error;
        results.push_back(std::move(result));
      }
      co_await record(std::move(results), b.key);
    }
  }

  void publish_health() { metrics_.destination_state(dest_.name, health_.name()); }

  asio::awaitable<void> sleep(Duration d) {
    asio::steady_timer t(ex_);
    t.expires_after(d);
    co_await t.async_wait(nothrow);
  }

  void start_delivery(storage::Delivery d) {
    ++in_flight_;
    std::string name = "delivery of " + d.event_id;
    tasks_.spawn(deliver(std::move(d)), std::move(name));
  }

  void start_batch(Batch b) {
    ++in_flight_;
    std::string name = "delivery of " + b.key;
    tasks_.spawn(deliver_batch(std::move(b)), std::move(name));
  }

  // An attempt's outcome for the destination's health: a destination failure
  // may pause it, any other answer ends a pause.
  void note_health(bool destination_failure, std::uint64_t started_epoch, const Answered& a) {
    // A failure the configuration calls permanent (dead_letter_on) is about
    // the event, not the destination: it does not pause the destination.
    if (destination_failure) {
      if (const auto pause =
              health_.failed(started_epoch, clock_.steady_now(), a.retry_after, unit_random_())) {
        publish_health();
        log_->warn("destination {} failing ({}); pausing deliveries for {} (failure {} in a row)",
                   dest_.name, a.status_text(), format_duration(*pause), health_.failure_streak());
      }
    } else if (const int failures = health_.succeeded(); failures > 0) {
      publish_health();
      log_->info("destination {} recovered after {} failure(s); resuming at concurrency {}",
                 dest_.name, failures, concurrency_);
    }
  }

  // What to record for one delivery after an attempt `plan`ned so; counts it
  // and logs it (`batch`: the key of the batch it went in, or empty).
  storage::AttemptResult settle(const storage::Delivery& d, const AttemptPlan& plan,
                                const Answered& a, storage::Millis now,
                                std::chrono::milliseconds took, const std::string& batch) {
    const int attempt = d.attempts + 1;
    const std::string in = batch.empty() ? std::string() : " in " + batch;
    storage::AttemptResult result;
    result.id = d.id;
    result.claim = claim_of(d);
    result.attempts = attempt;
    result.last_status = a.status.value_or(0);
    result.last_error = a.error;
    switch (plan.why) {
      case AttemptPlan::Why::success:
        result.kind = storage::AttemptResult::Kind::delivered;
        metrics_.delivery(dest_.name, "delivered", result.last_status);
        metrics_.delivered_latency(dest_.name, static_cast<double>(now - d.received_at) / 1000.0,
                                   attempt);
        if (batch.empty()) {
          log_->info("event {} delivered to {} (attempt {}, {}, {} ms)", d.event_id, dest_.name,
                     attempt, a.status_text(), took.count());
        } else {
          log_->debug("event {} delivered to {}{}", d.event_id, dest_.name, in);
        }
        break;
      case AttemptPlan::Why::retryable:
        result.kind = storage::AttemptResult::Kind::retry;
        result.next_attempt_at = plan.next_attempt_at;
        metrics_.delivery(dest_.name, "retry", result.last_status);
        if (batch.empty()) {
          log_->warn("event {} to {}: attempt {} failed: {}; retrying in {}", d.event_id,
                     dest_.name, attempt, a.error, format_duration(plan.delay));
        }
        break;
      case AttemptPlan::Why::max_attempts:
        result.kind = storage::AttemptResult::Kind::dead;
        result.last_error +=
            " (gave up: max_attempts " + std::to_string(dest_.retry.max_attempts) + " reached)";
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {}{} dead-lettered after attempt {}: {}; max_attempts reached",
                    d.event_id, dest_.name, in, attempt, a.error);
        break;
      case AttemptPlan::Why::max_age:
        result.kind = storage::AttemptResult::Kind::dead;
        result.last_error +=
            " (gave up: older than max_age " + format_duration(dest_.retry.max_age) + ")";
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {}{} dead-lettered after attempt {}: {}; max_age {} reached",
                    d.event_id, dest_.name, in, attempt, a.error,
                    format_duration(dest_.retry.max_age));
        break;
      case AttemptPlan::Why::not_retryable:
        result.kind = storage::AttemptResult::Kind::dead;
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {}{} dead-lettered after attempt {}: {} is not retryable",
                    d.event_id, dest_.name, in, attempt, a.error);
        break;
    }
    return result;
  }

  // Records the results of one attempt (one delivery's, or a batch's in one
  // transaction), trying again while storage fails; when stopping, more
  // often, until the drain deadline aborts the dispatcher (the rows then
  // stay inflight, and those with a result that was not recorded are
  // logged). A retry or dead result whose delivery was claimed again while
  // it was being recorded (its lease had run out) applied to nothing: it is
  // recorded again under the new claim. `what`: the event ID, or the
  // batch's key, for the log.
  asio::awaitable<void> record(std::vector<storage::AttemptResult> results,
                               const std::string& what) {
    if (results.empty()) co_return;
    std::vector<storage::AttemptResult> todo = results;
    while (!todo.empty()) {
      const bool stored = co_await store_results(todo, what);
      if (!stored) break;
      todo = reclaimed(std::move(todo));
    }
    for (const auto& result : results) let_go(result.id);
    for (const auto& result : results) {
      if (result.kind == storage::AttemptResult::Kind::retry) {
        next_due_ =
            next_due_ ? std::min(*next_due_, result.next_attempt_at) : result.next_attempt_at;
      }
    }
  }

  // Of results just recorded, the retry and dead ones whose delivery was
  // claimed again meanwhile, with their claim now.
  std::vector<storage::AttemptResult> reclaimed(
      std::vector<storage::AttemptResult> recorded) const {
    std::vector<storage::AttemptResult> again;
    for (auto& result : recorded) {
      const std::int64_t claim = claim_of(result.id, result.claim);
      if (result.kind == storage::AttemptResult::Kind::delivered || claim == result.claim) {
        continue;
      }
      result.claim = claim;
      again.push_back(std::move(result));
    }
    return again;
  }

  // One complete() of `results`, tried again while storage fails. False
  // when it never succeeded: the dispatcher was aborted at the drain
  // deadline first.
  asio::awaitable<bool> store_results(const std::vector<storage::AttemptResult>& results,
                                      const std::string& what) {
    for (;;) {
      auto recorded = co_await queue_->complete(results);
      if (recorded) co_return true;
      log_->error("{} to {}: cannot record the attempt: {}", what, dest_.name,
                  recorded.error().message);
      if (aborted_) {
        report_unrecorded(results, what);
        co_return false;
      }
      co_await sleep(stopping_ ? kStoppingStorageRetry : kStorageRetry);
    }
  }

  // At the shutdown deadline, results storage did not take: their rows stay
  // inflight and go out again. For those the destination accepted, that is
  // a second delivery; their event IDs are logged so it can be traced.
  void report_unrecorded(const std::vector<storage::AttemptResult>& results,
                         const std::string& what) {
    std::string delivered;
    for (const auto& result : results) {
      if (result.kind != storage::AttemptResult::Kind::delivered) continue;
      const auto it = holding_.find(result.id);
      if (!delivered.empty()) delivered += ", ";
      delivered += it != holding_.end() ? it->second.event_id : std::to_string(result.id);
    }
    if (delivered.empty()) {
      log_->warn("{} to {}: result not recorded by the shutdown deadline; attempted again later",
                 what, dest_.name);
      return;
    }
    log_->error(
        "{} to {}: accepted by the destination, but the result could not be recorded by the "
        "shutdown deadline; possible duplicate delivery of event(s) {}",
        what, dest_.name, delivered);
  }

  asio::awaitable<void> deliver(storage::Delivery d) {
    const int attempt = d.attempts + 1;
    const auto started = clock_.steady_now();
    const std::uint64_t started_epoch = health_.epoch();
    // Headers, auth (and the one resend after a 401 with OAuth2).
    auto response = co_await sender_->send(d.event_id, d.body, std::nullopt);
    if (aborted_) {
      log_->info("event {} to {}: attempt {} aborted by shutdown; stays queued", d.event_id,
                 dest_.name, attempt);
      let_go(d.id);
      finish_delivery();
      co_return;
    }
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - started);
    const Answered a = read_answer(response, clock_.system_now());
    metrics_.delivery_request(dest_.name, a.status.value_or(0), 1, d.body.size());

    AttemptOutcome outcome;
    outcome.attempt = attempt;
    outcome.received_at = d.received_at;
    outcome.status = a.status;
    outcome.retry_after = a.retry_after;
    const storage::Millis now = clock_.millis();
    const AttemptPlan plan = plan_attempt(dest_.retry, outcome, now, unit_random_());
    note_health(plan.destination_failure, started_epoch, a);
    const storage::AttemptResult result = settle(d, plan, a, now, took, {});

    // The request is over: its slot goes to the next delivery while the
    // result is recorded. The row stays marked inflight in storage until
    // then, so it cannot be fetched again meanwhile.
    finish_delivery();
    co_await record(std::vector<storage::AttemptResult>(1, result), d.event_id);
    wake();
  }

  // One attempt of a batch: one request for all its events. 2xx delivers
  // them all; a dead-letter verdict dead-letters each one; events to be
  // retried stay together in memory (their rows inflight) and go again as
  // the same batch, with the same key, when their retry is due. An event
  // that runs out of max_attempts or max_age leaves the batch as a dead
  // letter; the rest go on as a batch of their own. On a queue other relays
  // share, and when stopping, events to be retried go back to storage
  // instead (as record_held does), due when the batch would have been
  // retried, so that any relay can take them: this one may be the one that
  // cannot reach the destination.
  asio::awaitable<void> deliver_batch(Batch b) {
    const std::size_t count = b.deliveries.size();
    const auto started = clock_.steady_now();
    const std::uint64_t started_epoch = health_.epoch();
    auto response = co_await sender_->send(b.key, b.body, count);
    if (aborted_) {
      log_->info("{} ({} events) to {}: aborted by shutdown; the events stay queued", b.key, count,
                 dest_.name);
      for (const auto& d : b.deliveries) let_go(d.id);
      finish_delivery();
      co_return;
    }
    const auto took =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - started);
    const Answered a = read_answer(response, clock_.system_now());
    metrics_.delivery_request(dest_.name, a.status.value_or(0), count, b.body.size());

    // One draw of jitter for all: events with the same attempts retry at the
    // same time.
    const double jitter = unit_random_();
    const storage::Millis now = clock_.millis();
    std::vector<storage::AttemptResult> results;
    std::vector<storage::Delivery> again;
    std::optional<storage::Millis> due_at;
    bool destination_failure = false;
    const bool hold_retries = !stopping_ && !queue_->shared();
    for (auto& d : b.deliveries) {
      AttemptOutcome outcome;
      outcome.attempt = d.attempts + 1;
      outcome.received_at = d.received_at;
      outcome.status = a.status;
      outcome.retry_after = a.retry_after;
      const AttemptPlan plan = plan_attempt(dest_.retry, outcome, now, jitter);
      destination_failure = destination_failure || plan.destination_failure;
      auto result = settle(d, plan, a, now, took, b.key);
      if (result.kind == storage::AttemptResult::Kind::retry) {
        due_at = due_at ? std::min(*due_at, result.next_attempt_at) : result.next_attempt_at;
      }
      if (result.kind == storage::AttemptResult::Kind::retry && hold_retries) {
        d.attempts = result.attempts;
        again.push_back(std::move(d));
      } else {
        results.push_back(std::move(result));
      }
    }
    if (due_at && !hold_retries) {
      std::size_t returned = 0;
      for (auto& result : results) {
        if (result.kind != storage::AttemptResult::Kind::retry) continue;
        result.next_attempt_at = *due_at;
        ++returned;
      }
      log_->warn(
          "{} ({} events) to {}: attempt failed: {}; {} event(s) back to the queue, due "
          "in {}",
          b.key, count, dest_.name, a.error, returned, format_duration(Duration(*due_at - now)));
    }
    note_health(destination_failure, started_epoch, a);
    if (a.status && *a.status >= 200 && *a.status <= 299) {
      log_->info("{} ({} events, {} bytes) delivered to {} ({}, {} ms)", b.key, count,
                 b.body.size(), dest_.name, a.status_text(), took.count());
    }

    finish_delivery();
    if (!again.empty()) {
      Batch next;
      if (again.size() == count) {  // the same events: the same batch, the same key
        next.key = b.key;
        next.body = std::move(b.body);
        next.deliveries = std::move(again);
      } else {
        next = make_batch(std::move(again));
      }
      next.due_at = *due_at;
      next.last_status = a.status.value_or(0);
      next.last_error = a.error;
      log_->warn("{} ({} events) to {}: attempt failed: {}; retrying the same batch in {}",
                 next.key, next.deliveries.size(), dest_.name, a.error,
                 format_duration(Duration(*due_at - now)));
      held_.push_back(std::move(next));
    }
    // One transaction for the whole batch's results.
    co_await record(std::move(results), b.key);
    wake();
  }

  void finish_delivery() {
    --in_flight_;
    wake();
  }

  // Takes a fetched delivery into memory under its claim. False when this
  // dispatcher already holds it (waiting, being sent, held for a batch's
  // retry, or its result being recorded): its claim ran out before it could
  // be renewed (e.g. storage was unreachable for longer than the lease) and
  // this fetch claimed it again. The copy held goes on under the new claim,
  // so that its result applies and renewals cover it, and it is not sent a
  // second time.
  bool hold(const storage::Delivery& d) {
    auto [it, fresh] = holding_.try_emplace(d.id, Holding{d.claim, d.event_id});
    if (!fresh) {
      if (it->second.claim == d.claim) return false;
      log_->warn(
          "event {} to {}: claimed again after its lease ran out (claim {}, was {}); "
          "already being handled here, not sent again",
          d.event_id, dest_.name, d.claim, it->second.claim);
      it->second.claim = d.claim;
    }
    return fresh;
  }

  // The claim a held delivery is held under now (`fallback` when not held).
  std::int64_t claim_of(std::int64_t id, std::int64_t fallback) const {
    const auto it = holding_.find(id);
    return it != holding_.end() ? it->second.claim : fallback;
  }
  std::int64_t claim_of(const storage::Delivery& d) const { return claim_of(d.id, d.claim); }

  // Delivery `id` is no longer held in memory: its result is recorded (or
  // could not be, at the shutdown deadline), or its attempt aborted.
  void let_go(std::int64_t id) { holding_.erase(id); }

  asio::any_io_executor ex_;
  config::Destination dest_;
  std::unique_ptr<DeliveryQueue> queue_;  // the destination's rows in storage
  std::unique_ptr<Sender> sender_;        // the destination's HTTP client, auth and shaping
  DeliveryClock clock_;
  std::function<double()> unit_random_;  // backoff jitter
  metrics::RelayMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  asio::steady_timer wake_timer_;
  TaskGroup tasks_;  // the queue loop and the deliveries; drain() joins them
  unsigned concurrency_ = 1;
  std::size_t capacity_ = 32;
  std::deque<Waiting> buffer_;  // taken from storage, not yet sent
  std::vector<Batch> held_;     // batching: sent, failed, waiting for their retry
  // The deliveries this dispatcher holds (waiting in buffer_, being sent,
  // held for a batch's retry, or with their result being recorded), by
  // delivery id: the claim each is held under now. A copy of a Delivery
  // (in a coroutine, a batch) may carry an older claim: results look the
  // current one up here.
  struct Holding {
    std::int64_t claim = 0;
    std::string event_id;
  };
  std::unordered_map<std::int64_t, Holding> holding_;
  std::size_t in_flight_ = 0;  // requests under way: what concurrency limits
  std::optional<storage::Millis> next_due_;
  bool new_work_ = true;  // look at storage at start
  bool woken_ = false;
  bool stopping_ = false;
  bool aborted_ = false;      // shutdown deadline passed: results are not recorded
  DestinationHealth health_;  // pause and probe
  RateLimiter rate_;          // rate_limit
};

Result<std::unique_ptr<Dispatcher>> Dispatcher::create(asio::any_io_executor executor,
                                                       const config::Destination& destination,
                                                       storage::StorageWorker& storage,
                                                       metrics::RelayMetrics& metrics,
                                                       std::shared_ptr<spdlog::logger> log) {
  auto sender = EventSender::create(executor, destination, log);
  if (!sender) return fail(std::move(sender).error());
  Collaborators parts;
  parts.queue = std::make_unique<StorageDeliveryQueue>(storage, destination.name);
  parts.sender = std::move(sender).value();
  return assemble(std::move(executor), destination, std::move(parts), metrics, std::move(log));
}

std::unique_ptr<Dispatcher> Dispatcher::assemble(asio::any_io_executor executor,
                                                 const config::Destination& destination,
                                                 Collaborators collaborators,
                                                 metrics::RelayMetrics& metrics,
                                                 std::shared_ptr<spdlog::logger> log) {
  auto impl = std::make_unique<Impl>(std::move(executor), destination, std::move(collaborators),
                                     metrics, std::move(log));
  return std::unique_ptr<Dispatcher>(new Dispatcher(std::move(impl)));
}

Dispatcher::Dispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dispatcher::~Dispatcher() = default;
const std::string& Dispatcher::name() const noexcept { return impl_->name(); }
const char* Dispatcher::state() const noexcept { return impl_->state(); }
void Dispatcher::start() { impl_->start(); }
void Dispatcher::notify() { impl_->notify(); }
void Dispatcher::stop() { impl_->stop(); }
asio::awaitable<bool> Dispatcher::drain(std::chrono::steady_clock::time_point deadline) {
  return impl_->drain(deadline);
}
std::size_t Dispatcher::in_flight() const noexcept { return impl_->in_flight(); }
void Dispatcher::held_claims(std::vector<std::int64_t>& out) const { impl_->held_claims(out); }

}  // namespace ocirelay::delivery
