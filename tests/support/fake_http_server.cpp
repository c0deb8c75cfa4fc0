#include "support/fake_http_server.hpp"

#include <algorithm>
#include <future>
#include <set>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>

#include "ocirelay/http/server.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/log/logging.hpp"

namespace ocirelay::test {

namespace asio = boost::asio;

class FakeHttpServer::Impl final : public http::Handler {
 public:
  asio::awaitable<http::Response> handle(http::Request request) override {
    RecordedRequest rec{request.method, request.target, request.headers, request.body,
                        std::chrono::steady_clock::now()};
    Script current;
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex);
      index = recorded.size();
      recorded.push_back(rec);
      current = script;
      max_in_flight = std::max(max_in_flight, ++in_flight);
    }
    cv.notify_all();
    Reply reply = current ? current(rec, index) : Reply{http::Response{202, {}, {}, false}, {}};
    if (reply.delay.count() > 0 && !stopping) {
      asio::steady_timer t(io);
      t.expires_after(reply.delay);
      delays.insert(&t);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      delays.erase(&t);
    }
    {
      std::lock_guard lock(mutex);
      --in_flight;
    }
    co_return reply.response;
  }

  asio::io_context io{1};
  std::unique_ptr<http::Server> server;
  http::TlsContextPtr tls;  // HTTPS only; changed on the server thread
  std::thread thread;
  mutable std::mutex mutex;
  mutable std::condition_variable cv;
  std::vector<RecordedRequest> recorded;
  Script script;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 0;
  // Server thread only: replies being delayed, cut short at shutdown.
  std::set<asio::steady_timer*> delays;
  bool stopping = false;
};

FakeHttpServer::FakeHttpServer(Options options, std::uint16_t port)
    : impl_(std::make_unique<Impl>()) {
  http::ServerOptions so;
  so.host = "127.0.0.1";
  so.port = port;
  so.max_body_bytes = 64 * 1024 * 1024;
  if (!options.cert_file.empty()) {
    auto tls = http::make_server_tls_context(options.cert_file, options.key_file);
    if (!tls) throw std::runtime_error("fake server TLS: " + tls.error());
    so.tls = std::move(tls).value();
    impl_->tls = so.tls;
    tls_ = true;
    if (!options.client_ca_file.empty()) {
      SSL_CTX* native = so.tls->native_handle();
      if (SSL_CTX_load_verify_locations(native, options.client_ca_file.c_str(), nullptr) != 1) {
        throw std::runtime_error("fake server client CA: " + http::last_openssl_error());
      }
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    if (options.max_tls_version != 0) {
      SSL_CTX* native = so.tls->native_handle();
      // TLS 1.0 and 1.1 need security level 0 in OpenSSL 3, and ciphers the
      // production list leaves out.
      SSL_CTX_set_security_level(native, 0);
      if (SSL_CTX_set_min_proto_version(native, 0) != 1 ||
          SSL_CTX_set_max_proto_version(native, options.max_tls_version) != 1 ||
          SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0") != 1) {
        throw std::runtime_error("fake server TLS versions: " + http::last_openssl_error());
      }
    }
  }
  auto server = http::Server::create(impl_->io.get_executor(), so, *impl_,
                                     log::stderr_logger("fake-peer", "warn"));
  if (!server) throw std::runtime_error("fake server: " + server.error());
  impl_->server = std::move(server).value();
  port_ = impl_->server->port();
  impl_->server->start();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

FakeHttpServer::~FakeHttpServer() {
  asio::co_spawn(
      impl_->io,
      [this]() -> asio::awaitable<void> {
        impl_->stopping = true;
        for (auto* t : impl_->delays) t->cancel();
        impl_->server->stop();
        co_await impl_->server->drain(std::chrono::steady_clock::now() + std::chrono::seconds(2));
      },
      [this](std::exception_ptr) { impl_->io.stop(); });
  impl_->thread.join();
  // Connections still suspended in the server are never resumed; let the
  // io_context destroy them before the server goes.
  impl_->io.restart();
  impl_->io.poll();
  impl_->server.reset();
}

std::string FakeHttpServer::url(const std::string& path) const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void FakeHttpServer::set_script(Script script) {
  std::lock_guard lock(impl_->mutex);
  impl_->script = std::move(script);
}

void FakeHttpServer::always(int status, std::string body) {
  set_script([status, body](const RecordedRequest&, std::size_t) {
    http::Response r;
    r.status = status;
    r.body = body;
    if (!body.empty()) r.headers.set("Content-Type", "application/json");
    return Reply{r, {}};
  });
}

void FakeHttpServer::use_certificate(const std::string& cert_file, const std::string& key_file) {
  if (!impl_->tls) throw std::logic_error("use_certificate on a plain HTTP fake server");
  std::promise<std::string> done;
  asio::post(impl_->io, [&] {
    SSL_CTX* native = impl_->tls->native_handle();
    std::string error;
    if (SSL_CTX_use_certificate_chain_file(native, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(native, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(native) != 1) {
      error = "fake server certificate " + cert_file + ": " + http::last_openssl_error();
    }
    done.set_value(error);
  });
  if (const std::string error = done.get_future().get(); !error.empty()) {
    throw std::runtime_error(error);
  }
}

void FakeHttpServer::use_default_tls_versions() {
  if (!impl_->tls) throw std::logic_error("use_default_tls_versions on a plain HTTP fake server");
  std::promise<void> done;
  asio::post(impl_->io, [&] {
    SSL_CTX* native = impl_->tls->native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(native, 0);
    done.set_value();
  });
  done.get_future().get();
}

std::vector<RecordedRequest> FakeHttpServer::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->recorded;
}

std::size_t FakeHttpServer::max_concurrent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->max_in_flight;
}

std::size_t FakeHttpServer::request_count() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->recorded.size();
}

bool FakeHttpServer::wait_for_requests(std::size_t n, Duration timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->recorded.size() >= n; });
}

}  // namespace ocirelay::test
