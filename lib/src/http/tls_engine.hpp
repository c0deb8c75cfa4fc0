// The server side of one TLS connection, without the copy buffers Asio's
// ssl::stream keeps for as long as a connection lives (two of 17 KiB in
// its stream core, two more in its BIO pair: about 68 KiB, resident while
// the connection is idle; docs/benchmarks.md, memory per connection).
//
// OpenSSL reads and writes through a BIO of this class's own:
// - Reads come first from a small input buffer, filled by TlsStream's
//   wait for the socket to become readable (a read through the next layer,
//   so that layer's timeouts apply). Once that read has brought data within
//   an operation, the rest of a record is read from the socket directly
//   (recv, MSG_DONTWAIT) until it would block; then TlsStream waits again.
// - Writes go to the socket directly (send, MSG_DONTWAIT). What the socket
//   does not take is kept in order in an output buffer, which TlsStream
//   writes through the next layer before the operation completes. So
//   OpenSSL never sees a write that would block, and an idle connection
//   holds no output buffer.
// OpenSSL's own record buffers are freed while idle
// (SSL_MODE_RELEASE_BUFFERS).
//
// The socket is reached through the reference given at construction on
// every call, never through a remembered descriptor: once it is closed
// (by the server, from outside any operation), no call touches a descriptor
// number that may since belong to another file.
//
// Errors are reported as Asio's ssl::stream reports them: a close_notify is
// asio::error::eof; the transport's end without one is
// asio::ssl::error::stream_truncated; OpenSSL's errors are in
// asio::error::get_ssl_category(); a socket error is the system's code.
//
// Thread and lifetime: not thread-safe; one operation at a time, on the
// socket's executor. Neither copyable nor movable (OpenSSL holds its
// address). Must not outlive the socket.
#pragma once

#include <array>
#include <cstddef>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>

#include <openssl/ssl.h>

namespace ocirelay::http {

class TlsEngine {
 public:
  // What an operation needs before it can go on.
  enum class Want {
    done,   // finished: the result (and any error) is set
    input,  // the socket must become readable: wait, then call input_arrived
  };

  // A server-side connection on `context`. When OpenSSL cannot make one
  // (out of memory), every operation fails with not_enough_memory.
  TlsEngine(SSL_CTX* context, boost::asio::ip::tcp::socket& socket);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  SSL* native_handle() { return ssl_; }

  // One step of each operation. `n` is the number of bytes read or
  // written when the result is Want::done without error; an empty buffer
  // is done at once, with n = 0.
  Want handshake(boost::system::error_code& ec);
  Want read(void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec);
  Want write(const void* data, std::size_t size, std::size_t& n, boost::system::error_code& ec);
  // Sends close_notify and waits for the peer's (SSL_shutdown twice, as Asio).
  Want shutdown(boost::system::error_code& ec);

  // Where the wait for input reads to (only when all input was consumed),
  // and what it brought: a number of bytes, or the transport's end.
  boost::asio::mutable_buffer input_space();
  void input_arrived(std::size_t n);
  void input_ended();

  // Output the socket did not take at once, to write through the next layer.
  bool has_output() const { return output_.size() > output_sent_; }
  boost::asio::const_buffer output() const {
    return {output_.data() + output_sent_, output_.size() - output_sent_};
  }
  void output_written(std::size_t n);

  // An operation completed: direct reads wait for the next wait's data.
  void operation_done() { direct_reads_ = false; }

  static constexpr std::size_t kInputSize = 4096;

 private:
  template <class Call>
  Want perform(Call call, std::size_t* n, boost::system::error_code& ec);

  // The BIO's methods (static, OpenSSL calls them with the BIO).
  friend struct TlsEngineBio;
  int bio_read(char* data, int size);
  int bio_write(const char* data, int size);

  SSL* ssl_ = nullptr;
  boost::asio::ip::tcp::socket& socket_;
  std::array<unsigned char, kInputSize> input_;  // not zeroed: touched only as read into
  std::size_t input_begin_ = 0;
  std::size_t input_end_ = 0;
  bool direct_reads_ = false;  // the socket had data this operation: recv at once
  bool transport_ended_ = false;
  int socket_error_ = 0;  // errno of the last failed recv or send
  std::string output_;
  std::size_t output_sent_ = 0;
};

}  // namespace ocirelay::http
