// TlsStream, the ingress server's TLS stream, against Asio's own TLS client
// over real sockets on 127.0.0.1: data both ways through records larger and
// smaller than its input buffer, byte by byte and pipelined, the ends of a
// connection (close_notify, a bare close, a shutdown), and the next layer's
// deadlines on a handshake, a read and a write that cannot finish.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "http/tls_stream.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "support/temp_dir.hpp"
#include "support/test_pki.hpp"

using namespace ocirelay;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
using ServerStream = http::TlsStream<beast::tcp_stream>;
using ClientStream = asio::ssl::stream<tcp::socket>;

struct Contexts {
  test::TempDir dir;
  test::TestPki pki = test::make_test_pki(dir);
  http::TlsContextPtr server = *http::make_server_tls_context(pki.server_cert, pki.server_key);
  http::TlsContextPtr client = *http::make_client_tls_context(
      {.ca_file = pki.ca_cert, .verify = true, .cert_file = {}, .key_file = {}});
};

Contexts& contexts() {
  static Contexts made;
  return made;
}

// A connected pair: the server's TlsStream and a client's ssl::stream, not
// yet shaken hands.
struct Pair {
  std::unique_ptr<ServerStream> server;
  std::unique_ptr<ClientStream> client;
};

// Runs both at once (b in a coroutine of its own) and returns both results.
template <class A, class B>
asio::awaitable<std::pair<A, B>> both(asio::awaitable<A> a, asio::awaitable<B> b) {
  auto ex = co_await asio::this_coro::executor;
  struct Other {
    explicit Other(asio::any_io_executor ex) : done(ex, asio::steady_timer::time_point::max()) {}
    std::optional<B> result;
    std::exception_ptr error;
    bool finished = false;
    asio::steady_timer done;
  };
  auto other = std::make_shared<Other>(ex);
  asio::co_spawn(ex, std::move(b), [other](std::exception_ptr e, B r) {
    other->error = e;
    if (!e) other->result.emplace(std::move(r));
    other->finished = true;
    other->done.cancel();
  });
  A first = co_await std::move(a);
  if (!other->finished) co_await other->done.async_wait(nothrow);
  if (other->error) std::rethrow_exception(other->error);
  co_return std::pair<A, B>{std::move(first), std::move(*other->result)};
}

asio::awaitable<Pair> connect() {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  Pair pair;
  pair.client = std::make_unique<ClientStream>(ex, *contexts().client);
  // The kernel completes a connection to a listening socket on its own.
  pair.client->next_layer().connect(acceptor.local_endpoint());
  auto [ec, accepted] = co_await acceptor.async_accept(nothrow);
  REQUIRE_FALSE(ec);
  pair.server =
      std::make_unique<ServerStream>(beast::tcp_stream(std::move(accepted)), *contexts().server);
  co_return pair;
}

asio::awaitable<Pair> connect_and_shake_hands() {
  Pair pair = co_await connect();
  beast::get_lowest_layer(*pair.server).expires_after(10s);
  auto [server, client] =
      co_await both(pair.server->async_handshake(nothrow),
                    pair.client->async_handshake(asio::ssl::stream_base::client, nothrow));
  REQUIRE_FALSE(std::get<0>(server));
  REQUIRE_FALSE(std::get<0>(client));
  co_return pair;
}

// Runs the test's coroutine; when it ends (or fails), so does everything it
// left waiting.
template <class Body>
void run(Body body) {
  asio::io_context io;
  std::exception_ptr failed;
  asio::co_spawn(io, body(), [&](std::exception_ptr e) {
    failed = e;
    io.stop();
  });
  io.run();
  if (failed) std::rethrow_exception(failed);
}

std::string pattern(std::size_t size, unsigned seed) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return out;
}

// Reads exactly `size` bytes from the server stream, `chunk` at most per read.
asio::awaitable<std::string> server_read(ServerStream& server, std::size_t size,
                                         std::size_t chunk) {
  std::string got;
  std::string buffer(chunk, '\0');
  beast::get_lowest_layer(server).expires_after(10s);
  while (got.size() < size) {
    auto [ec, n] = co_await server.async_read_some(
        asio::buffer(buffer.data(), std::min(chunk, size - got.size())), nothrow);
    INFO("read " << got.size() << " of " << size);
    REQUIRE_FALSE(ec);
    REQUIRE(n > 0);
    got.append(buffer.data(), n);
  }
  co_return got;
}

}  // namespace

TEST_CASE("TlsStream carries data both ways, through small and large records", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    Pair pair = co_await connect_and_shake_hands();
    // A small request, then one of many 16 KiB records (more than the
    // stream's input buffer), read in pieces of several sizes.
    for (const std::size_t size : {std::size_t{100}, std::size_t{1500}, std::size_t{300'000}}) {
      for (const std::size_t chunk : {std::size_t{1}, std::size_t{700}, std::size_t{65'536}}) {
        if (chunk == 1 && size > 2000) continue;
        const std::string sent = pattern(size, static_cast<unsigned>(chunk));
        auto [written, got] =
            co_await both(asio::async_write(*pair.client, asio::buffer(sent), nothrow),
                          server_read(*pair.server, size, chunk));
        REQUIRE_FALSE(std::get<0>(written));
        CHECK(got == sent);
      }
    }
    // A response larger than the socket takes at once: what it does not
    // take is written before the write completes.
    const std::string answer = pattern(3'000'000, 3);
    std::string received(answer.size(), '\0');
    beast::get_lowest_layer(*pair.server).expires_after(10s);
    auto [server_wrote, client_read] =
        co_await both(asio::async_write(*pair.server, asio::buffer(answer), nothrow),
                      asio::async_read(*pair.client, asio::buffer(received), nothrow));
    REQUIRE_FALSE(std::get<0>(server_wrote));
    CHECK(std::get<1>(server_wrote) == answer.size());
    REQUIRE_FALSE(std::get<0>(client_read));
    CHECK(received == answer);
  });
}

TEST_CASE("TlsStream keeps input that arrived beyond the record it needed", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    Pair pair = co_await connect_and_shake_hands();
    // Many small records sent before the server reads: one socket read
    // brings several, and each read afterwards takes up where the last ended.
    std::string all;
    for (unsigned i = 0; i < 50; ++i) {
      const std::string record = "request " + std::to_string(i) + ";";
      auto [ec, n] = co_await asio::async_write(*pair.client, asio::buffer(record), nothrow);
      REQUIRE_FALSE(ec);
      all += record;
    }
    // (co_await outside Catch's macros, which may evaluate their argument twice)
    const std::string got = co_await server_read(*pair.server, all.size(), 5);
    CHECK(got == all);
  });
}

TEST_CASE("TlsStream reports close_notify as eof and a bare close as a truncation", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    {
      Pair pair = co_await connect_and_shake_hands();
      char byte = 0;
      beast::get_lowest_layer(*pair.server).expires_after(10s);
      auto server_side = [&]() -> asio::awaitable<error_code> {
        auto [ec, n] = co_await pair.server->async_read_some(asio::buffer(&byte, 1), nothrow);
        // The client's shutdown waits for the server's close_notify: end it.
        error_code ignored;
        pair.client->next_layer().close(ignored);
        co_return ec;
      };
      auto [server, client] = co_await both(server_side(), pair.client->async_shutdown(nothrow));
      CHECK(server == asio::error::eof);
    }
    {
      Pair pair = co_await connect_and_shake_hands();
      // The transport's end without close_notify (FIN: a close would reset,
      // the server's session tickets being unread).
      error_code ignored;
      pair.client->next_layer().shutdown(tcp::socket::shutdown_send, ignored);
      char byte = 0;
      beast::get_lowest_layer(*pair.server).expires_after(10s);
      auto [ec, n] = co_await pair.server->async_read_some(asio::buffer(&byte, 1), nothrow);
      CHECK(ec == asio::ssl::error::stream_truncated);
    }
  });
}

TEST_CASE("TlsStream shuts down with close_notify both ways", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    Pair pair = co_await connect_and_shake_hands();
    beast::get_lowest_layer(*pair.server).expires_after(10s);
    char byte = 0;
    // The client reads the server's close_notify (eof), then answers it.
    auto client_side = [&]() -> asio::awaitable<error_code> {
      auto [ec, n] = co_await pair.client->async_read_some(asio::buffer(&byte, 1), nothrow);
      CHECK(ec == asio::error::eof);
      auto [sec] = co_await pair.client->async_shutdown(nothrow);
      co_return sec;
    };
    auto [server, client] = co_await both(pair.server->async_shutdown(nothrow), client_side());
    CHECK_FALSE(std::get<0>(server));
    CHECK_FALSE(client);
    CHECK((SSL_get_shutdown(pair.server->native_handle()) & SSL_RECEIVED_SHUTDOWN) != 0);
  });
}

TEST_CASE("TlsStream's handshake, reads and writes end at the next layer's deadline",
          "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    {
      // A client that connects and says nothing.
      Pair pair = co_await connect();
      beast::get_lowest_layer(*pair.server).expires_after(100ms);
      auto [ec, n] = co_await pair.server->async_handshake(nothrow);
      CHECK(ec == beast::error::timeout);
    }
    {
      // A client that sends 100 KB, then nothing.
      Pair pair = co_await connect_and_shake_hands();
      const std::string big = pattern(100'000, 1);
      auto client_ex = co_await asio::this_coro::executor;
      asio::co_spawn(client_ex, asio::async_write(*pair.client, asio::buffer(big), nothrow),
                     asio::detached);
      std::string buffer(200'000, '\0');
      std::size_t total = 0;
      // Reads what arrives; then nothing more comes, and the deadline ends
      // the wait.
      beast::get_lowest_layer(*pair.server).expires_after(300ms);
      error_code ec;
      for (;;) {
        std::size_t n = 0;
        std::tie(ec, n) = co_await pair.server->async_read_some(
            asio::buffer(buffer.data() + total, buffer.size() - total), nothrow);
        if (ec) break;
        total += n;
      }
      CHECK(ec == beast::error::timeout);
      CHECK(total == big.size());
    }
    {
      // A client that reads nothing while the server writes megabytes.
      Pair pair = co_await connect_and_shake_hands();
      const std::string answer = pattern(20'000'000, 2);
      beast::get_lowest_layer(*pair.server).expires_after(300ms);
      auto [ec, n] = co_await asio::async_write(*pair.server, asio::buffer(answer), nothrow);
      CHECK(ec == beast::error::timeout);
      CHECK(n < answer.size());
    }
  });
}

TEST_CASE("TlsStream fails cleanly once its socket is closed from outside", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    Pair pair = co_await connect_and_shake_hands();
    auto ex = co_await asio::this_coro::executor;
    // A read waiting for input is aborted by the close (as the server's
    // shutdown and evictions do it).
    asio::steady_timer later(ex, 50ms);
    char byte = 0;
    beast::get_lowest_layer(*pair.server).expires_after(10s);
    auto closer = [&]() -> asio::awaitable<bool> {
      co_await later.async_wait(asio::use_awaitable);
      beast::get_lowest_layer(*pair.server).close();
      co_return true;
    };
    auto [read, closed] =
        co_await both(pair.server->async_read_some(asio::buffer(&byte, 1), nothrow), closer());
    CHECK(std::get<0>(read) == asio::error::operation_aborted);
    // Then a shutdown and a write touch no descriptor: they fail.
    auto [shutdown_ec, sn] = co_await pair.server->async_shutdown(nothrow);
    CHECK(shutdown_ec);
    auto [write_ec, wn] = co_await asio::async_write(*pair.server, asio::buffer("x", 1), nothrow);
    CHECK(write_ec);
  });
}

TEST_CASE("TlsStream refuses what is not TLS, before and after the handshake", "[http][tls]") {
  run([]() -> asio::awaitable<void> {
    {
      // Plain HTTP on the TLS port: the handshake fails with OpenSSL's reason.
      Pair pair = co_await connect();
      const std::string plain = "POST /v1/events HTTP/1.1\r\nHost: x\r\n\r\n";
      auto [wec, wn] =
          co_await asio::async_write(pair.client->next_layer(), asio::buffer(plain), nothrow);
      REQUIRE_FALSE(wec);
      beast::get_lowest_layer(*pair.server).expires_after(10s);
      auto [ec, n] = co_await pair.server->async_handshake(nothrow);
      CHECK(ec.category() == asio::error::get_ssl_category());
    }
    {
      // A record that does not decrypt, after a sound handshake.
      Pair pair = co_await connect_and_shake_hands();
      std::string forged = "\x17\x03\x03\x00\x20";  // application data, 32 bytes
      forged += std::string(32, '\x5a');
      auto [wec, wn] =
          co_await asio::async_write(pair.client->next_layer(), asio::buffer(forged), nothrow);
      REQUIRE_FALSE(wec);
      char byte = 0;
      beast::get_lowest_layer(*pair.server).expires_after(10s);
      auto [ec, n] = co_await pair.server->async_read_some(asio::buffer(&byte, 1), nothrow);
      CHECK(ec.category() == asio::error::get_ssl_category());
      CHECK(n == 0);
    }
  });
}
