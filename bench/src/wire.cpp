#include "wire.hpp"

#include <charconv>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ocirelay::bench {

namespace asio = boost::asio;

namespace {
constexpr auto kUse = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kMaxHead = 64 * 1024;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if ((x | 0x20) != (y | 0x20)) {
      return false;
    }
  }
  return true;
}
}  // namespace

std::string_view Message::start_line() const {
  const auto end = head.find("\r\n");
  return std::string_view(head).substr(0, end);
}

std::optional<std::string_view> Message::header(std::string_view name) const {
  std::string_view rest(head);
  auto pos = rest.find("\r\n");
  while (pos != std::string_view::npos) {
    rest.remove_prefix(pos + 2);
    const auto eol = rest.find("\r\n");
    const auto line = rest.substr(0, eol);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && iequals(line.substr(0, colon), name)) {
      auto value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
        value.remove_suffix(1);
      }
      return value;
    }
    pos = eol;
  }
  return std::nullopt;
}

int Message::status() const {
  const auto line = start_line();
  if (line.size() < 12 || line.substr(0, 5) != "HTTP/") {
    return 0;
  }
  int code = 0;
  const auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, code);
  return ec == std::errc{} ? code : 0;
}

template <class Stream>
asio::awaitable<boost::system::error_code> read_any(Stream& socket, std::string& buffer,
                                                    Message& out) {
  auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(buffer, kMaxHead),
                                                 "\r\n\r\n", kUse);
  if (ec) {
    co_return ec;
  }
  out.head.assign(buffer, 0, n - 4);
  buffer.erase(0, n);
  std::size_t length = 0;
  if (const auto value = out.header("Content-Length")) {
    const auto [p, perr] = std::from_chars(value->data(), value->data() + value->size(), length);
    if (perr != std::errc{} || p != value->data() + value->size()) {
      co_return asio::error::invalid_argument;
    }
  }
  if (buffer.size() < length) {
    const auto have = buffer.size();
    buffer.resize(length);
    auto [rec, got] =
        co_await asio::async_read(socket, asio::buffer(buffer.data() + have, length - have), kUse);
    if (rec) {
      co_return rec;
    }
  }
  out.body.assign(buffer, 0, length);
  buffer.erase(0, length);
  co_return boost::system::error_code{};
}

asio::awaitable<boost::system::error_code> read_message(asio::ip::tcp::socket& socket,
                                                        std::string& buffer, Message& out) {
  return read_any(socket, buffer, out);
}

asio::awaitable<boost::system::error_code> read_message(
    asio::ssl::stream<asio::ip::tcp::socket>& stream, std::string& buffer, Message& out) {
  return read_any(stream, buffer, out);
}

}  // namespace ocirelay::bench
