#include "ocirelay/delivery/dispatcher.hpp"

#include <algorithm>
#include <deque>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ocirelay/common/task_group.hpp"
#include "ocirelay/delivery/backoff.hpp"
#include "ocirelay/delivery/event_sender.hpp"
#include "ocirelay/http/client.hpp"

namespace ocirelay::delivery {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using Clock = std::chrono::steady_clock;

enum class Health { healthy, paused, probing };
const char* health_name(Health h) {
  switch (h) {
    case Health::healthy: return "healthy";
    case Health::paused: return "paused";
    case Health::probing: return "probing";
  }
  return "?";
}
// With nothing known to be due, look again this often anyway.
constexpr Duration kIdlePoll = 60s;
constexpr Duration kStorageRetry = 1s;
// After an abort, how long the aborted tasks may take to end: they only wait
// for storage answers by then.
constexpr Duration kAbortGrace = 2s;

// A short, printable excerpt of a response body for the last-error column.
std::string excerpt(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, 200)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  }
  if (body.size() > 200) out += "...";
  return out;
}

}  // namespace

class Dispatcher::Impl {
 public:
  Impl(asio::any_io_executor ex, const config::Destination& destination,
       storage::StorageWorker& storage, metrics::RelayMetrics& metrics,
       std::shared_ptr<spdlog::logger> log, std::unique_ptr<EventSender> client)
      : ex_(std::move(ex)),
        dest_(destination),
        storage_(storage),
        metrics_(metrics),
        log_(std::move(log)),
        client_(std::move(client)),
        wake_timer_(ex_),
        tasks_(ex_,
               [log = log_, name = dest_.name](std::exception_ptr, const std::string& task) {
                 log->critical("{}: {} ended by an exception", name, task);
               }),
        rng_(std::random_device{}()) {
    concurrency_ = std::max(1u, dest_.concurrency);
    // Room for a few storage round trips' worth of deliveries, so that the
    // next fetch is under way before the buffer runs dry.
    capacity_ = std::max<std::size_t>(128, 8 * concurrency_);
    metrics_.destination_state(dest_.name, health_name(health_));
  }

  const std::string& name() const { return dest_.name; }
  const char* state() const { return health_name(health_); }
  std::size_t in_flight() const { return in_flight_; }

  void start() {
    tasks_.spawn(run(), "queue loop");
  }

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
      log_->warn("{}: {} delivery(ies) still in flight at the shutdown deadline; aborted, they "
                 "stay queued",
                 dest_.name, in_flight_);
    }
    client_->cancel();
    tasks_.cancel(asio::cancellation_type::terminal);
  }

  void wake() {
    woken_ = true;
    wake_timer_.cancel();
  }

  asio::awaitable<void> run() {
    while (!stopping_) {
      const auto now = Clock::now();
      if (health_ == Health::paused && now >= paused_until_) {
        set_health(Health::probing);
        log_->info("destination {}: pause over; probing with one request", dest_.name);
      }
      // Healthy: full concurrency. Probing: one request at a time. Paused: none.
      const std::size_t limit = health_ == Health::healthy   ? concurrency_
                                : health_ == Health::probing ? 1
                                                             : 0;
      std::optional<Clock::time_point> next_token;
      while (in_flight_ < limit && !buffer_.empty()) {
        if (!take_rate_token(now)) {
          next_token = now + token_wait();
          break;
        }
        start_delivery(std::move(buffer_.front()));
        buffer_.pop_front();
      }
      if (new_work_ && buffer_.size() < capacity_ / 2) {
        new_work_ = false;
        const std::size_t want = capacity_ - buffer_.size();
        auto fetched = co_await storage_.async_fetch_due(dest_.name, storage::now_millis(), want,
                                                         asio::use_awaitable);
        if (!fetched) {
          log_->error("{}: cannot read the queue: {}", dest_.name, fetched.error().message);
          new_work_ = true;
          co_await sleep(kStorageRetry);
          continue;
        }
        next_due_ = fetched->next_due;
        if (fetched->due.size() == want) new_work_ = true;  // there may be more
        for (auto& d : fetched->due) buffer_.push_back(std::move(d));
        continue;
      }
      if (woken_) {
        woken_ = false;
        continue;
      }
      Duration wait = kIdlePoll;
      if (next_due_) {
        const auto until = Duration(*next_due_ - storage::now_millis());
        wait = std::clamp<Duration>(until, 10ms, kIdlePoll);
      }
      if (health_ == Health::paused && !buffer_.empty()) {
        wait = std::clamp<Duration>(
            std::chrono::duration_cast<Duration>(paused_until_ - Clock::now()), 1ms, wait);
      }
      if (next_token) {
        wait = std::clamp<Duration>(
            std::chrono::duration_cast<Duration>(*next_token - Clock::now()), 1ms, wait);
      }
      wake_timer_.expires_after(wait);
      auto [ec] = co_await wake_timer_.async_wait(nothrow);
      woken_ = false;
      if (!ec) new_work_ = true;  // the wait ran out: something may be due now
    }
  }

  // Token bucket of one: deliveries start at most rate_limit per second.
  bool take_rate_token(Clock::time_point now) {
    if (dest_.rate_limit <= 0) return true;
    const double elapsed = std::chrono::duration<double>(now - refilled_at_).count();
    tokens_ = std::min(1.0, tokens_ + elapsed * dest_.rate_limit);
    refilled_at_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  Duration token_wait() const {
    const double seconds = (1.0 - tokens_) / dest_.rate_limit;
    return std::max<Duration>(Duration(1), Duration(static_cast<Duration::rep>(seconds * 1000.0) + 1));
  }

  void set_health(Health h) {
    health_ = h;
    metrics_.destination_state(dest_.name, health_name(h));
  }

  // An attempt that started in pause epoch `started_epoch` failed in a way
  // that says the destination is unwell: pause the whole destination, longer
  // each time, at least for Retry-After. Failures of attempts that started
  // before the current pause add nothing.
  void destination_failed(std::uint64_t started_epoch, std::optional<Duration> retry_after,
                          const std::string& why) {
    if (started_epoch != epoch_) return;
    ++epoch_;
    ++failure_streak_;
    Duration pause = backoff_delay(dest_.retry, failure_streak_, unit_random());
    if (retry_after) pause = std::max(pause, std::min(*retry_after, dest_.retry.max_backoff));
    paused_until_ = Clock::now() + pause;
    set_health(Health::paused);
    log_->warn("destination {} failing ({}); pausing deliveries for {} (failure {} in a row)",
               dest_.name, why, format_duration(pause), failure_streak_);
  }

  void destination_succeeded() {
    if (health_ != Health::healthy) {
      log_->info("destination {} recovered after {} failure(s); resuming at concurrency {}",
                 dest_.name, failure_streak_, concurrency_);
    }
    failure_streak_ = 0;
    if (health_ != Health::healthy) ++epoch_;
    set_health(Health::healthy);
  }

  double unit_random() { return std::uniform_real_distribution<double>(0, 1)(rng_); }

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

  asio::awaitable<void> deliver(storage::Delivery d) {
    const int attempt = d.attempts + 1;
    const auto started = std::chrono::steady_clock::now();
    const std::uint64_t started_epoch = epoch_;
    // Payload, headers, auth (and the one resend after a 401 with OAuth2).
    auto response = co_await client_->send(d.event_id, d.body);
    if (aborted_) {
      log_->info("event {} to {}: attempt {} aborted by shutdown; stays queued", d.event_id,
                 dest_.name, attempt);
      finish_delivery();
      co_return;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);

    std::optional<int> status;
    std::string error;
    std::optional<Duration> retry_after;
    if (response) {
      status = response->status;
      if (*status == 429 || *status == 503) {
        if (auto header = response->headers.get("Retry-After")) {
          retry_after = parse_retry_after(*header, std::chrono::system_clock::now());
        }
      }
      if (*status < 200 || *status > 299) {
        error = "HTTP " + std::to_string(*status);
        if (!response->body.empty()) error += ": " + excerpt(response->body);
      }
    } else {
      error = response.error().message;
    }

    storage::AttemptResult result;
    result.id = d.id;
    result.attempts = attempt;
    result.last_status = status.value_or(0);
    result.last_error = error;
    const storage::Millis now = storage::now_millis();
    const std::string status_text = status ? "HTTP " + std::to_string(*status) : error;

    // A failure the configuration calls permanent (dead_letter_on) is about
    // the event, not the destination: it does not pause the destination.
    const Verdict verdict = classify(status, dest_.retry);
    if (verdict == Verdict::retry && is_destination_failure(status)) {
      destination_failed(started_epoch, retry_after, status_text);
    } else {
      destination_succeeded();
    }

    switch (verdict) {
      case Verdict::delivered:
        result.kind = storage::AttemptResult::Kind::delivered;
        metrics_.delivery(dest_.name, "delivered", result.last_status);
        metrics_.delivered_latency(dest_.name, static_cast<double>(now - d.received_at) / 1000.0,
                                   attempt);
        log_->info("event {} delivered to {} (attempt {}, {}, {} ms)", d.event_id, dest_.name,
                   attempt, status_text, took.count());
        break;
      case Verdict::retry: {
        Duration delay = backoff_delay(dest_.retry, attempt, unit_random());
        if (retry_after) delay = std::max(delay, std::min(*retry_after, dest_.retry.max_backoff));
        const Duration age(now + delay.count() - d.received_at);
        if (dest_.retry.max_attempts > 0 &&
            attempt >= static_cast<int>(dest_.retry.max_attempts)) {
          result.kind = storage::AttemptResult::Kind::dead;
          result.last_error += " (gave up: max_attempts " +
                               std::to_string(dest_.retry.max_attempts) + " reached)";
          metrics_.delivery(dest_.name, "dead", result.last_status);
          log_->error("event {} to {} dead-lettered after attempt {}: {}; max_attempts reached",
                      d.event_id, dest_.name, attempt, error);
        } else if (age > dest_.retry.max_age) {
          result.kind = storage::AttemptResult::Kind::dead;
          result.last_error += " (gave up: older than max_age " +
                               format_duration(dest_.retry.max_age) + ")";
          metrics_.delivery(dest_.name, "dead", result.last_status);
          log_->error("event {} to {} dead-lettered after attempt {}: {}; max_age {} reached",
                      d.event_id, dest_.name, attempt, error, format_duration(dest_.retry.max_age));
        } else {
          result.kind = storage::AttemptResult::Kind::retry;
          result.next_attempt_at = now + delay.count();
          metrics_.delivery(dest_.name, "retry", result.last_status);
          log_->warn("event {} to {}: attempt {} failed: {}; retrying in {}", d.event_id,
                     dest_.name, attempt, error, format_duration(delay));
        }
        break;
      }
      case Verdict::dead:
        result.kind = storage::AttemptResult::Kind::dead;
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {} dead-lettered after attempt {}: {} is not retryable",
                    d.event_id, dest_.name, attempt, error);
        break;
    }

    // The request is over: its slot goes to the next delivery while the
    // result is recorded. The row stays marked inflight in storage until
    // then, so it cannot be fetched again meanwhile.
    finish_delivery();
    for (;;) {
      auto recorded = co_await storage_.async_complete(result, asio::use_awaitable);
      if (recorded) break;
      log_->error("event {} to {}: cannot record the attempt: {}", d.event_id, dest_.name,
                  recorded.error().message);
      if (stopping_) break;  // stays inflight; released before storage closes
      co_await sleep(kStorageRetry);
    }
    if (result.kind == storage::AttemptResult::Kind::retry) {
      next_due_ = next_due_ ? std::min(*next_due_, result.next_attempt_at) : result.next_attempt_at;
    }
    wake();
  }

  void finish_delivery() {
    --in_flight_;
    wake();
  }

  asio::any_io_executor ex_;
  config::Destination dest_;
  storage::StorageWorker& storage_;
  metrics::RelayMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<EventSender> client_;  // the destination's HTTP client, auth and shaping
  asio::steady_timer wake_timer_;
  TaskGroup tasks_;  // the queue loop and the deliveries; drain() joins them
  std::mt19937_64 rng_;
  unsigned concurrency_ = 1;
  std::size_t capacity_ = 32;
  std::deque<storage::Delivery> buffer_;
  std::size_t in_flight_ = 0;   // requests under way: what concurrency limits
  std::optional<storage::Millis> next_due_;
  bool new_work_ = true;  // look at storage at start
  bool woken_ = false;
  bool stopping_ = false;
  bool aborted_ = false;  // shutdown deadline passed: results are not recorded
  // Destination health: see destination_failed().
  Health health_ = Health::healthy;
  int failure_streak_ = 0;
  std::uint64_t epoch_ = 0;  // grows with every pause and recovery
  Clock::time_point paused_until_{};
  double tokens_ = 1.0;  // rate limit bucket
  Clock::time_point refilled_at_ = Clock::now();
};

Result<std::unique_ptr<Dispatcher>> Dispatcher::create(asio::any_io_executor executor,
                                                       const config::Destination& destination,
                                                       storage::StorageWorker& storage,
                                                       metrics::RelayMetrics& metrics,
                                                       std::shared_ptr<spdlog::logger> log) {
  auto client = EventSender::create(executor, destination, log);
  if (!client) return fail(std::move(client).error());
  auto impl = std::make_unique<Impl>(std::move(executor), destination, storage, metrics,
                                     std::move(log), std::move(client).value());
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

}  // namespace ocirelay::delivery
