#include "http/tls_engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/socket.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

namespace ocirelay::http {

namespace asio = boost::asio;

// The BIO method OpenSSL calls TlsEngine through; the BIO's data is the engine.
struct TlsEngineBio {
  static TlsEngine& engine(BIO* bio) { return *static_cast<TlsEngine*>(BIO_get_data(bio)); }

  static int read(BIO* bio, char* data, int size) {
    BIO_clear_retry_flags(bio);
    const int n = engine(bio).bio_read(data, size);
    if (n == kRetry) {
      BIO_set_retry_read(bio);
      return -1;
    }
    return n;
  }

  static int write(BIO* bio, const char* data, int size) {
    BIO_clear_retry_flags(bio);
    return engine(bio).bio_write(data, size);
  }

  static long ctrl(BIO*, int command, long, void*) {
    // Nothing is buffered below OpenSSL (output the socket did not take is
    // the engine's, written before the operation completes): a flush is done.
    return command == BIO_CTRL_FLUSH ? 1 : 0;
  }

  static int create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static int destroy(BIO* bio) {
    BIO_set_data(bio, nullptr);
    return 1;
  }

  // Made once, on first use, and never changed (OpenSSL only reads it).
  static BIO_METHOD* method() {
    static BIO_METHOD* const made = [] {
      BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "ocirelay tls");
      if (m != nullptr) {
        BIO_meth_set_read(m, &read);
        BIO_meth_set_write(m, &write);
        BIO_meth_set_ctrl(m, &ctrl);
        BIO_meth_set_create(m, &create);
        BIO_meth_set_destroy(m, &destroy);
      }
      return m;
    }();
    return made;
  }

  static constexpr int kRetry = -2;
};

TlsEngine::TlsEngine(SSL_CTX* context, asio::ip::tcp::socket& socket) : socket_(socket) {
  BIO_METHOD* method = TlsEngineBio::method();
  if (method == nullptr) return;
  ssl_ = SSL_new(context);
  if (ssl_ == nullptr) return;
  BIO* bio = BIO_new(method);
  if (bio == nullptr) {
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_, bio, bio);  // one reference, owned by ssl_ from here on
  SSL_set_mode(ssl_, SSL_MODE_RELEASE_BUFFERS);
  SSL_set_accept_state(ssl_);
}

TlsEngine::~TlsEngine() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

template <class Call>
TlsEngine::Want TlsEngine::perform(Call call, std::size_t* n, boost::system::error_code& ec) {
  if (ssl_ == nullptr) {
    ec = make_error_code(boost::system::errc::not_enough_memory);
    return Want::done;
  }
  ERR_clear_error();
  socket_error_ = 0;
  const int result = call();
  if (result > 0) {
    ec = {};
    return Want::done;
  }
  if (n != nullptr) *n = 0;
  const int ssl_error = SSL_get_error(ssl_, result);
  const unsigned long queued = ERR_get_error();
  ERR_clear_error();
  switch (ssl_error) {
    case SSL_ERROR_WANT_READ:
      ec = {};
      return Want::input;
    case SSL_ERROR_ZERO_RETURN:
      // With SSL_OP_IGNORE_UNEXPECTED_EOF, OpenSSL reports the transport's
      // end as a close_notify; Asio calls it a truncation, and so does this.
      if (transport_ended_) {
        ec = asio::ssl::error::stream_truncated;
      } else {
        ec = asio::error::eof;
      }
      return Want::done;
    case SSL_ERROR_SYSCALL:
    case SSL_ERROR_SSL:
      if (socket_error_ != 0) {
        ec = boost::system::error_code(socket_error_, boost::system::system_category());
      } else if (ERR_GET_REASON(queued) == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
                 (queued == 0 && transport_ended_)) {
        ec = asio::ssl::error::stream_truncated;
      } else if (queued != 0) {
        ec = boost::system::error_code(static_cast<int>(queued), asio::error::get_ssl_category());
      } else {
        ec = asio::ssl::error::unspecified_system_error;
      }
      return Want::done;
    default:  // SSL_ERROR_WANT_WRITE and the rest: the BIO never asks for them
      ec = asio::ssl::error::unexpected_result;
      return Want::done;
  }
}

TlsEngine::Want TlsEngine::handshake(boost::system::error_code& ec) {
  return perform([this] { return SSL_do_handshake(ssl_); }, nullptr, ec);
}

TlsEngine::Want TlsEngine::read(void* data, std::size_t size, std::size_t& n,
                                boost::system::error_code& ec) {
  n = 0;
  if (size == 0) {  // nothing asked for: done, without asking OpenSSL
    ec = {};
    return Want::done;
  }
  return perform([&] { return SSL_read_ex(ssl_, data, size, &n); }, &n, ec);
}

TlsEngine::Want TlsEngine::write(const void* data, std::size_t size, std::size_t& n,
                                 boost::system::error_code& ec) {
  n = 0;
  if (size == 0) {
    ec = {};
    return Want::done;
  }
  return perform([&] { return SSL_write_ex(ssl_, data, size, &n); }, &n, ec);
}

TlsEngine::Want TlsEngine::shutdown(boost::system::error_code& ec) {
  return perform(
      [this] {
        int result = SSL_shutdown(ssl_);               // sends close_notify
        if (result == 0) result = SSL_shutdown(ssl_);  // then reads the peer's
        return result;
      },
      nullptr, ec);
}

asio::mutable_buffer TlsEngine::input_space() {
  input_begin_ = 0;
  input_end_ = 0;
  return {input_.data(), input_.size()};
}

void TlsEngine::input_arrived(std::size_t n) {
  input_begin_ = 0;
  input_end_ = std::min(n, input_.size());
  direct_reads_ = true;
}

void TlsEngine::input_ended() { transport_ended_ = true; }

void TlsEngine::output_written(std::size_t n) {
  output_sent_ = std::min(output_.size(), output_sent_ + n);
  if (output_sent_ == output_.size()) {
    std::string().swap(output_);  // an idle connection holds no output buffer
    output_sent_ = 0;
  }
}

int TlsEngine::bio_read(char* data, int size) {
  if (size <= 0) return 0;
  if (input_begin_ < input_end_) {
    const std::size_t n = std::min(static_cast<std::size_t>(size), input_end_ - input_begin_);
    std::memcpy(data, input_.data() + input_begin_, n);
    input_begin_ += n;
    return static_cast<int>(n);
  }
  if (transport_ended_) return 0;
  if (!direct_reads_) return TlsEngineBio::kRetry;
  if (!socket_.is_open()) {
    socket_error_ = EBADF;
    return -1;
  }
  for (;;) {
    const ssize_t got =
        ::recv(socket_.native_handle(), data, static_cast<std::size_t>(size), MSG_DONTWAIT);
    if (got > 0) return static_cast<int>(got);
    if (got == 0) {
      transport_ended_ = true;
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      direct_reads_ = false;
      return TlsEngineBio::kRetry;
    }
    socket_error_ = errno;
    return -1;
  }
}

int TlsEngine::bio_write(const char* data, int size) {
  if (size <= 0) return 0;
  const auto length = static_cast<std::size_t>(size);
  if (has_output()) {  // behind output not yet written: keep the order
    output_.append(data, length);
    return size;
  }
  if (!socket_.is_open()) {
    socket_error_ = EBADF;
    return -1;
  }
  for (;;) {
    const ssize_t sent = ::send(socket_.native_handle(), data, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) {
      const auto done = static_cast<std::size_t>(sent);
      if (done < length) output_.assign(data + done, length - done);
      return size;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      output_.assign(data, length);
      return size;
    }
    socket_error_ = errno;
    return -1;
  }
}

}  // namespace ocirelay::http
