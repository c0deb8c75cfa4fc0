// A real HTTP(S) server on 127.0.0.1, port 0, that plays a peer of the relay
// (a fake OIC trigger, a fake ONS confirmation endpoint). It is the library's
// own http::Server with a scripted handler, run by its own io_context on a
// background thread. Every request is recorded with its arrival time.
//
// Thread contract: the script runs on the server thread; recorded requests
// are read from the test thread under a mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/http/message.hpp"

namespace ocirelay::test {

struct RecordedRequest {
  std::string method;
  std::string target;
  http::Headers headers;
  std::string body;
  std::chrono::steady_clock::time_point at;
};

struct Reply {
  http::Response response;
  Duration delay{0};  // wait this long before answering
};

struct FakeServerOptions {
  std::string cert_file;  // both set: HTTPS
  std::string key_file;
  // HTTPS only: require a client certificate signed by this CA (mTLS); a
  // client without one fails the handshake and no request is recorded.
  std::string client_ca_file{};
  // HTTPS only: the newest protocol version offered (e.g. TLS1_1_VERSION: an
  // outdated server, with OpenSSL's security level lowered so it can); 0:
  // the library's default range.
  int max_tls_version = 0;
};

class FakeHttpServer {
 public:
  using Script = std::function<Reply(const RecordedRequest& request, std::size_t index)>;

  using Options = FakeServerOptions;

  // Answers 202 with no body until a script is set. Port 0: any free port.
  explicit FakeHttpServer(Options options = {}, std::uint16_t port = 0);
  ~FakeHttpServer();
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  // "http(s)://127.0.0.1:PORT" + path
  std::string url(const std::string& path) const;

  void set_script(Script script);
  // Answers every request with this status (and body).
  void always(int status, std::string body = {});
  // HTTPS only: new connections get this certificate and key from now on
  // (a renewed or corrected certificate); open connections keep theirs.
  // Throws when the files cannot be loaded.
  void use_certificate(const std::string& cert_file, const std::string& key_file);
  // HTTPS only: new handshakes offer the library's default versions again
  // (the outdated server was upgraded).
  void use_default_tls_versions();

  std::vector<RecordedRequest> requests() const;
  // The most requests that were being answered at the same time.
  std::size_t max_concurrent() const;
  std::size_t request_count() const;
  // Waits until at least n requests have arrived; false on timeout.
  bool wait_for_requests(std::size_t n, Duration timeout) const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
};

}  // namespace ocirelay::test
