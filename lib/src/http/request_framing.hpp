// The framing checks of RFC 9112 that Beast's parser leaves to its user, on
// a request header as read. Anything a proxy in front could frame otherwise
// is refused, and the server closes the connection after the answer:
//   - HTTP/1.1 without Host, or more than one Host (RFC 9112 section 3.2);
//   - Transfer-Encoding in an HTTP/1.0 request, or with Content-Length
//     (section 6.1, 6.3: request smuggling);
//   - a final transfer coding other than chunked (section 6.1), or chunked
//     after another coding (gzip, ...), which the relay does not decode.
// All get 400: RFC 9112 allows 501 for a coding not understood, but a 400
// is what every framing doubt gets here.
// A pure function of the header; no state.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>

namespace ocirelay::http {

struct FramingProblem {
  int status;
  std::string reason;
};

inline std::optional<FramingProblem> request_framing_problem(
    const boost::beast::http::request_header<>& header) {
  namespace bhttp = boost::beast::http;
  const auto hosts = header.count(bhttp::field::host);
  if (header.version() >= 11 && hosts == 0) {
    return FramingProblem{400, "an HTTP/1.1 request needs a Host header"};
  }
  if (hosts > 1) return FramingProblem{400, "more than one Host header"};

  if (header.count(bhttp::field::transfer_encoding) == 0) return std::nullopt;
  if (header.version() < 11) {
    return FramingProblem{400, "Transfer-Encoding in an HTTP/1.0 request"};
  }
  if (header.count(bhttp::field::content_length) > 0) {
    return FramingProblem{400, "both Transfer-Encoding and Content-Length"};
  }
  // The codings of every Transfer-Encoding field, in order.
  std::vector<std::string> codings;
  for (auto it = header.find(bhttp::field::transfer_encoding);
       it != header.end() && it->name() == bhttp::field::transfer_encoding; ++it) {
    const std::string_view value = it->value();
    std::size_t start = 0;
    while (start <= value.size()) {
      std::size_t end = value.find(',', start);
      if (end == std::string_view::npos) end = value.size();
      std::string_view item = value.substr(start, end - start);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      std::string lower;
      for (char c : item) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      codings.push_back(std::move(lower));
      start = end + 1;
    }
  }
  if (codings.empty() || codings.back() != "chunked") {
    return FramingProblem{400, "the final transfer coding is not chunked"};
  }
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (codings[i].empty() || codings[i] == "chunked") {
      return FramingProblem{400, "malformed Transfer-Encoding"};
    }
    return FramingProblem{400, "transfer coding " + codings[i] + " is not supported"};
  }
  return std::nullopt;
}

}  // namespace ocirelay::http
