// A server-side TLS stream over a Beast stream (beast::basic_stream), for
// the ingress server: what asio::ssl::stream does, without its copy buffers
// (TlsEngine says how, and why). It meets Beast's AsyncStream requirements,
// so Beast's HTTP reads and writes run on it, and beast::get_lowest_layer
// reaches the TCP stream, whose expires_after/expires_at deadlines apply to
// every wait of an operation: a handshake, a read or a write ends with
// beast::error::timeout at the deadline, as on asio::ssl::stream.
//
// An operation that needs no wait completes through a post, never inside
// the call that started it.
//
// Thread and lifetime: like the stream below it, one operation of each
// direction at a time, all on the stream's executor; the server reads and
// writes in turn, never both at once. Neither copyable nor movable; the
// stream must outlive its operations.
#pragma once

#include <cstddef>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include "http/tls_engine.hpp"

namespace ocirelay::http {

template <class NextLayer>
class TlsStream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;

  // At most this much plaintext per write_some: bounds what the engine keeps
  // when the socket takes nothing (async_write loops over write_some).
  static constexpr std::size_t kMaxWrite = 64 * 1024;

  TlsStream(NextLayer next, boost::asio::ssl::context& context)
      : next_(std::move(next)),
        engine_(context.native_handle(), boost::beast::get_lowest_layer(next_).socket()) {}
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() noexcept { return next_.get_executor(); }
  NextLayer& next_layer() noexcept { return next_; }
  const NextLayer& next_layer() const noexcept { return next_; }
  SSL* native_handle() noexcept { return engine_.native_handle(); }

  template <class Token>
  auto async_handshake(Token&& token) {
    return start(
        [](TlsEngine& engine, boost::system::error_code& ec, std::size_t& n) {
          n = 0;
          return engine.handshake(ec);
        },
        token);
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const boost::asio::mutable_buffer into = first_nonempty(buffers);
    return start([into](TlsEngine& engine, boost::system::error_code& ec,
                        std::size_t& n) { return engine.read(into.data(), into.size(), n, ec); },
                 token);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const boost::asio::const_buffer from = boost::asio::buffer(first_nonempty(buffers), kMaxWrite);
    return start([from](TlsEngine& engine, boost::system::error_code& ec,
                        std::size_t& n) { return engine.write(from.data(), from.size(), n, ec); },
                 token);
  }

  // Sends close_notify, then waits for the peer's (or its end, or an error).
  template <class Token>
  auto async_shutdown(Token&& token) {
    return start(
        [](TlsEngine& engine, boost::system::error_code& ec, std::size_t& n) {
          n = 0;
          return engine.shutdown(ec);
        },
        token);
  }

 private:
  template <class Buffers>
  static auto first_nonempty(const Buffers& buffers) {
    auto it = boost::asio::buffer_sequence_begin(buffers);
    const auto end = boost::asio::buffer_sequence_end(buffers);
    using Buffer = std::decay_t<decltype(*it)>;
    for (; it != end; ++it) {
      if (Buffer(*it).size() != 0) return Buffer(*it);
    }
    return Buffer();
  }

  // Runs `step` until it is done: writes the output it leaves through the
  // next layer, and waits for input through it when it asks for some.
  template <class Step>
  struct Operation {
    Operation(TlsStream& s, Step st) : stream(s), step(std::move(st)) {}

    TlsStream& stream;
    Step step;
    enum class State { starting, waited, wrote, posted } state = State::starting;
    TlsEngine::Want want = TlsEngine::Want::done;
    boost::system::error_code result;
    std::size_t transferred = 0;

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t n = 0) {
      TlsEngine& engine = stream.engine_;
      switch (state) {
        case State::starting:
          break;
        case State::waited:
          if (ec == boost::asio::error::eof) {
            engine.input_ended();  // the step reports it as OpenSSL sees it
          } else if (ec) {
            return finish(self, ec, 0);
          } else {
            engine.input_arrived(n);
          }
          break;
        case State::wrote:
          if (ec) return finish(self, ec, 0);
          engine.output_written(n);
          if (engine.has_output()) return write_output(self);
          if (want == TlsEngine::Want::done) return finish(self, result, transferred);
          return wait_for_input(self);
        case State::posted:
          return finish(self, result, transferred);
      }
      want = step(engine, result, transferred);
      if (engine.has_output()) return write_output(self);
      if (want == TlsEngine::Want::input) return wait_for_input(self);
      if (state == State::starting) {
        state = State::posted;
        boost::asio::post(stream.get_executor(), std::move(self));
        return;
      }
      finish(self, result, transferred);
    }

    template <class Self>
    void write_output(Self& self) {
      state = State::wrote;
      stream.next_.async_write_some(stream.engine_.output(), std::move(self));
    }

    template <class Self>
    void wait_for_input(Self& self) {
      state = State::waited;
      stream.next_.async_read_some(stream.engine_.input_space(), std::move(self));
    }

    template <class Self>
    void finish(Self& self, boost::system::error_code ec, std::size_t n) {
      stream.engine_.operation_done();
      self.complete(ec, n);
    }
  };

  template <class Step, class Token>
  auto start(Step step, Token& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Operation<Step>(*this, std::move(step)), token, next_);
  }

  NextLayer next_;
  TlsEngine engine_;
};

}  // namespace ocirelay::http
