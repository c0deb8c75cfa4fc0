#include "ocirelay/delivery/dispatcher.hpp"

#include <algorithm>
#include <deque>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ocirelay/common/exception_text.hpp"
#include "ocirelay/common/task_group.hpp"
#include "ocirelay/delivery/attempt_plan.hpp"
#include "ocirelay/delivery/backoff.hpp"
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
// After an abort, how long the aborted tasks may take to end: they only wait
// for storage answers by then.
constexpr Duration kAbortGrace = 2s;

// How long from `now` until `at`, in whole milliseconds rounded up.
Duration until(Clock::time_point at, Clock::time_point now) {
  return std::chrono::ceil<Duration>(at - now);
}

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
       Collaborators parts, metrics::RelayMetrics& metrics, std::shared_ptr<spdlog::logger> log)
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
    // next fetch is under way before the buffer runs dry.
    capacity_ = std::max<std::size_t>(128, 8 * concurrency_);
    publish_health();
  }

  const std::string& name() const { return dest_.name; }
  const char* state() const { return health_.name(); }
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
      const std::size_t limit = health_.limit(concurrency_);
      std::optional<Clock::time_point> next_token;
      while (in_flight_ < limit && !buffer_.empty()) {
        if (!rate_.try_take(now)) {
          next_token = rate_.next_token_at(now);
          break;
        }
        start_delivery(std::move(buffer_.front()));
        buffer_.pop_front();
      }
      // A queue other relays share: claim only what can be sent now (none
      // while paused), so that what this relay cannot send goes to them.
      const std::size_t want =
          !queue_->shared()                       ? capacity_ - buffer_.size()
          : limit > in_flight_ + buffer_.size() ? limit - in_flight_ - buffer_.size()
                                                  : 0;
      if (new_work_ && buffer_.size() < capacity_ / 2 && want > 0) {
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
        for (auto& d : fetched->due) buffer_.push_back(std::move(d));
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
      if (health_.state() == Health::paused && (!buffer_.empty() || queue_->shared())) {
        wait = std::clamp<Duration>(until(health_.paused_until(), clock_.steady_now()), 1ms, wait);
      }
      if (next_token) {
        wait = std::clamp<Duration>(until(*next_token, clock_.steady_now()), 1ms, wait);
      }
      wake_timer_.expires_after(wait);
      auto [ec] = co_await wake_timer_.async_wait(nothrow);
      woken_ = false;
      if (!ec) new_work_ = true;  // the wait ran out: something may be due now
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

  asio::awaitable<void> deliver(storage::Delivery d) {
    const int attempt = d.attempts + 1;
    const auto started = clock_.steady_now();
    const std::uint64_t started_epoch = health_.epoch();
    // Payload, headers, auth (and the one resend after a 401 with OAuth2).
    auto response = co_await sender_->send(d.event_id, d.body);
    if (aborted_) {
      log_->info("event {} to {}: attempt {} aborted by shutdown; stays queued", d.event_id,
                 dest_.name, attempt);
      finish_delivery();
      co_return;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        clock_.steady_now() - started);

    AttemptOutcome outcome;
    outcome.attempt = attempt;
    outcome.received_at = d.received_at;
    std::string error;
    if (response) {
      const int status = response->status;
      outcome.status = status;
      if (status == 429 || status == 503) {
        if (auto header = response->headers.get("Retry-After")) {
          outcome.retry_after = parse_retry_after(*header, clock_.system_now());
        }
      }
      if (status < 200 || status > 299) {
        error = "HTTP " + std::to_string(status);
        if (!response->body.empty()) error += ": " + excerpt(response->body);
      }
    } else {
      error = response.error().message;
    }
    const storage::Millis now = clock_.millis();
    const AttemptPlan plan = plan_attempt(dest_.retry, outcome, now, unit_random_());
    const std::string status_text =
        outcome.status ? "HTTP " + std::to_string(*outcome.status) : error;

    // A failure the configuration calls permanent (dead_letter_on) is about
    // the event, not the destination: it does not pause the destination.
    if (plan.destination_failure) {
      if (const auto pause = health_.failed(started_epoch, clock_.steady_now(),
                                            outcome.retry_after, unit_random_())) {
        publish_health();
        log_->warn("destination {} failing ({}); pausing deliveries for {} (failure {} in a row)",
                   dest_.name, status_text, format_duration(*pause), health_.failure_streak());
      }
    } else if (const int failures = health_.succeeded(); failures > 0) {
      publish_health();
      log_->info("destination {} recovered after {} failure(s); resuming at concurrency {}",
                 dest_.name, failures, concurrency_);
    }

    storage::AttemptResult result;
    result.id = d.id;
    result.attempts = attempt;
    result.last_status = outcome.status.value_or(0);
    result.last_error = error;
    switch (plan.why) {
      case AttemptPlan::Why::success:
        result.kind = storage::AttemptResult::Kind::delivered;
        metrics_.delivery(dest_.name, "delivered", result.last_status);
        metrics_.delivered_latency(dest_.name, static_cast<double>(now - d.received_at) / 1000.0,
                                   attempt);
        log_->info("event {} delivered to {} (attempt {}, {}, {} ms)", d.event_id, dest_.name,
                   attempt, status_text, took.count());
        break;
      case AttemptPlan::Why::retryable:
        result.kind = storage::AttemptResult::Kind::retry;
        result.next_attempt_at = plan.next_attempt_at;
        metrics_.delivery(dest_.name, "retry", result.last_status);
        log_->warn("event {} to {}: attempt {} failed: {}; retrying in {}", d.event_id,
                   dest_.name, attempt, error, format_duration(plan.delay));
        break;
      case AttemptPlan::Why::max_attempts:
        result.kind = storage::AttemptResult::Kind::dead;
        result.last_error += " (gave up: max_attempts " +
                             std::to_string(dest_.retry.max_attempts) + " reached)";
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {} dead-lettered after attempt {}: {}; max_attempts reached",
                    d.event_id, dest_.name, attempt, error);
        break;
      case AttemptPlan::Why::max_age:
        result.kind = storage::AttemptResult::Kind::dead;
        result.last_error +=
            " (gave up: older than max_age " + format_duration(dest_.retry.max_age) + ")";
        metrics_.delivery(dest_.name, "dead", result.last_status);
        log_->error("event {} to {} dead-lettered after attempt {}: {}; max_age {} reached",
                    d.event_id, dest_.name, attempt, error, format_duration(dest_.retry.max_age));
        break;
      case AttemptPlan::Why::not_retryable:
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
      auto recorded = co_await queue_->complete(result);
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
  std::deque<storage::Delivery> buffer_;
  std::size_t in_flight_ = 0;   // requests under way: what concurrency limits
  std::optional<storage::Millis> next_due_;
  bool new_work_ = true;  // look at storage at start
  bool woken_ = false;
  bool stopping_ = false;
  bool aborted_ = false;  // shutdown deadline passed: results are not recorded
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

}  // namespace ocirelay::delivery
