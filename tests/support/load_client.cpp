#include "support/load_client.hpp"

#include <exception>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/http/client.hpp"
#include "ocirelay/http/url.hpp"
#include "support/test_client.hpp"

namespace ocirelay::test {

namespace asio = boost::asio;
using namespace std::chrono_literals;

LoadClient::LoadClient(int index, std::atomic<std::uint16_t>& port, std::atomic<bool>& stop)
    : index_(index), port_(port), stop_(stop) {
  thread_ = std::thread([this] { run(); });
}

LoadClient::~LoadClient() {
  stop_ = true;
  join();
}

void LoadClient::join() {
  if (thread_.joinable()) thread_.join();
}

void LoadClient::run() {
  asio::io_context io;
  asio::co_spawn(io, loop(io), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      error_ = ex.what();
    } catch (...) {
      error_ = "unknown exception";
    }
  });
  io.run();
}

asio::awaitable<void> LoadClient::loop(asio::io_context& io) {
  std::unique_ptr<http::HttpClient> client;
  std::uint16_t client_port = 0;
  long seq = 0;
  asio::steady_timer pause(io);
  while (!stop_.load()) {
    const std::uint16_t port = port_.load();
    if (port == 0) {  // the relay is down
      pause.expires_after(5ms);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (!client || port != client_port) {
      auto url = http::parse_url("http://127.0.0.1:" + std::to_string(port) + "/v1/events");
      if (!url) throw std::runtime_error("bad URL: " + url.error());
      http::ClientOptions options;
      options.timeout = 5s;
      options.max_idle_connections = 1;
      client = std::make_unique<http::HttpClient>(io.get_executor(), *url, options);
      client_port = port;
    }
    const long n = static_cast<long>(index_) * 10'000'000L + seq;
    http::ClientRequest request;
    request.body = event_with_id(n);
    request.headers.add("Content-Type", "application/json");
    auto sending = client->send(std::move(request));
    auto result = co_await std::move(sending);
    if (result && (result->status == 202 || result->status == 200)) {
      if (result->status == 200) ++duplicates_;
      acked_.push_back(event_id_for(n));
      ++seq;
      continue;
    }
    if (result) {
      ++refused_;  // e.g. 503 while storage cannot commit
    } else {
      ++failed_;  // the relay died mid-request, or is restarting
    }
    pause.expires_after(5ms);
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace ocirelay::test
