// Just enough HTTP/1.1 for the benchmark's own client and sink: read one
// message head plus a Content-Length body from a socket. Both peers are
// ocirelayd or this tool, on loopback; a malformed message ends the
// connection. Kept out of the daemon: it is a measuring tool, not a server.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/system/error_code.hpp>

namespace ocirelay::bench {

struct Message {
  std::string head;  // start line and header fields, without the blank line
  std::string body;

  // The first line: "POST /path HTTP/1.1" or "HTTP/1.1 202 Accepted".
  std::string_view start_line() const;
  // A header field's value, name compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;
  // The status code of a response, 0 if the start line is not one.
  int status() const;
};

// Reads one message from the socket. `buffer` keeps bytes read past the end
// of this message for the next call. Returns an error on EOF, on a head larger
// than 64 KiB or on a missing/invalid Content-Length where a body follows.
boost::asio::awaitable<boost::system::error_code> read_message(boost::asio::ip::tcp::socket& socket,
                                                               std::string& buffer, Message& out);
// The same over TLS.
boost::asio::awaitable<boost::system::error_code> read_message(
    boost::asio::ssl::stream<boost::asio::ip::tcp::socket>& stream, std::string& buffer,
    Message& out);

}  // namespace ocirelay::bench
