#include "ocirelay/delivery/dispatcher.hpp"

#include <algorithm>
#include <deque>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "ocirelay/common/base64.hpp"
#include "ocirelay/delivery/backoff.hpp"
#include "ocirelay/http/client.hpp"
#include "ocirelay/http/url.hpp"

namespace ocirelay::delivery {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
// With nothing known to be due, look again this often anyway.
constexpr Duration kIdlePoll = 60s;
constexpr Duration kStorageRetry = 1s;

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
       std::shared_ptr<spdlog::logger> log, std::unique_ptr<http::HttpClient> client)
      : ex_(std::move(ex)),
        dest_(destination),
        storage_(storage),
        metrics_(metrics),
        log_(std::move(log)),
        client_(std::move(client)),
        wake_timer_(ex_),
        drained_(ex_),
        rng_(std::random_device{}()) {
    concurrency_ = std::max(1u, dest_.concurrency);
    capacity_ = std::max<std::size_t>(32, 4 * concurrency_);
    if (dest_.auth.type == config::DestinationAuth::Type::basic) {
      authorization_ = "Basic " + base64_encode(dest_.auth.username + ":" + dest_.auth.password);
    }
  }

  const std::string& name() const { return dest_.name; }
  std::size_t in_flight() const { return in_flight_; }

  void start() {
    asio::co_spawn(ex_, run(), [log = log_, name = dest_.name](std::exception_ptr e) {
      if (e) log->critical("dispatcher for {} ended by an exception", name);
    });
  }

  void notify() {
    new_work_ = true;
    wake();
  }

  void stop() {
    stopping_ = true;
    wake();
  }

  asio::awaitable<void> drain(Duration deadline) {
    if (in_flight_ > 0) {
      drained_.expires_after(deadline);
      co_await drained_.async_wait(nothrow);
    }
    if (in_flight_ > 0) {
      log_->warn("{}: {} delivery(ies) still in flight at the shutdown deadline; they stay queued",
                 dest_.name, in_flight_);
      aborted_ = true;
      client_->cancel();
      // The aborted deliveries finish now, without recording anything.
      drained_.expires_after(5s);
      co_await drained_.async_wait(nothrow);
    }
  }

 private:
  void wake() {
    woken_ = true;
    wake_timer_.cancel();
  }

  asio::awaitable<void> run() {
    while (!stopping_) {
      while (in_flight_ < concurrency_ && !buffer_.empty()) {
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
      wake_timer_.expires_after(wait);
      auto [ec] = co_await wake_timer_.async_wait(nothrow);
      woken_ = false;
      if (!ec) new_work_ = true;  // the wait ran out: something may be due now
    }
  }

  asio::awaitable<void> sleep(Duration d) {
    asio::steady_timer t(ex_);
    t.expires_after(d);
    co_await t.async_wait(nothrow);
  }

  void start_delivery(storage::Delivery d) {
    ++in_flight_;
    asio::co_spawn(ex_, deliver(std::move(d)), [this](std::exception_ptr e) {
      if (e) log_->critical("{}: a delivery ended by an exception", dest_.name);
    });
  }

  asio::awaitable<void> deliver(storage::Delivery d) {
    const int attempt = d.attempts + 1;
    http::ClientRequest request;
    request.method = "POST";
    request.headers.add("Content-Type", "application/json");
    request.headers.add("Idempotency-Key", d.event_id);
    if (!authorization_.empty()) request.headers.add("Authorization", authorization_);
    request.body = std::move(d.body);

    const auto started = std::chrono::steady_clock::now();
    auto response = co_await client_->send(std::move(request));
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
    if (response) {
      status = response->status;
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

    switch (classify(status)) {
      case Verdict::delivered:
        result.kind = storage::AttemptResult::Kind::delivered;
        metrics_.delivery(dest_.name, "delivered", result.last_status);
        metrics_.delivered_latency(dest_.name, static_cast<double>(now - d.received_at) / 1000.0,
                                   attempt);
        log_->info("event {} delivered to {} (attempt {}, {}, {} ms)", d.event_id, dest_.name,
                   attempt, status_text, took.count());
        break;
      case Verdict::retry: {
        const Duration delay =
            backoff_delay(dest_.retry, attempt, std::uniform_real_distribution<double>(0, 1)(rng_));
        const Duration age(now + delay.count() - d.received_at);
        if (age > dest_.retry.max_age) {
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
    finish_delivery();
  }

  void finish_delivery() {
    --in_flight_;
    if (in_flight_ == 0 && stopping_) drained_.cancel();
    wake();
  }

  asio::any_io_executor ex_;
  config::Destination dest_;
  storage::StorageWorker& storage_;
  metrics::RelayMetrics& metrics_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<http::HttpClient> client_;
  asio::steady_timer wake_timer_;
  asio::steady_timer drained_;
  std::mt19937_64 rng_;
  std::string authorization_;  // secret: never logged
  unsigned concurrency_ = 1;
  std::size_t capacity_ = 32;
  std::deque<storage::Delivery> buffer_;
  std::size_t in_flight_ = 0;
  std::optional<storage::Millis> next_due_;
  bool new_work_ = true;  // look at storage at start
  bool woken_ = false;
  bool stopping_ = false;
  bool aborted_ = false;  // shutdown deadline passed: results are not recorded
};

Result<std::unique_ptr<Dispatcher>> Dispatcher::create(asio::any_io_executor executor,
                                                       const config::Destination& destination,
                                                       storage::StorageWorker& storage,
                                                       metrics::RelayMetrics& metrics,
                                                       std::shared_ptr<spdlog::logger> log) {
  auto url = http::parse_url(destination.url);
  if (!url) return fail("destination " + destination.name + ": " + url.error());
  http::ClientOptions options;
  options.timeout = destination.timeout;
  options.max_idle_connections = std::max(1u, destination.concurrency);
  if (url->tls) {
    auto tls = http::make_client_tls_context(http::ClientTlsOptions{destination.tls.ca_file, true, {}, {}});
    if (!tls) return fail("destination " + destination.name + ": " + tls.error());
    options.tls = std::move(tls).value();
  }
  auto client = std::make_unique<http::HttpClient>(executor, *url, std::move(options));
  auto impl = std::make_unique<Impl>(std::move(executor), destination, storage, metrics,
                                     std::move(log), std::move(client));
  return std::unique_ptr<Dispatcher>(new Dispatcher(std::move(impl)));
}

Dispatcher::Dispatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dispatcher::~Dispatcher() = default;
const std::string& Dispatcher::name() const noexcept { return impl_->name(); }
void Dispatcher::start() { impl_->start(); }
void Dispatcher::notify() { impl_->notify(); }
void Dispatcher::stop() { impl_->stop(); }
asio::awaitable<void> Dispatcher::drain(Duration deadline) { return impl_->drain(deadline); }
std::size_t Dispatcher::in_flight() const noexcept { return impl_->in_flight(); }

}  // namespace ocirelay::delivery
