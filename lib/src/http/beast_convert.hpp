// Translation between the project's Beast-free messages (http/message.hpp)
// and Beast's types. Private to the http area; only server.cpp and client.cpp
// include it.
#pragma once

#include <string>

#include <boost/beast/http.hpp>

#include "ocirelay/http/client.hpp"
#include "ocirelay/http/message.hpp"

namespace ocirelay::http {

namespace bhttp = boost::beast::http;

inline Request from_beast_header(const bhttp::request_header<>& header) {
  Request r;
  r.method = std::string(header.method_string());
  r.target = std::string(header.target());
  for (const auto& field : header) {
    r.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  return r;
}

// The response as bytes on the wire, in one buffer: status line, the
// handler's fields (but its own Content-Length and Connection, which are the
// server's to set), Server, Content-Length, and Connection where the version's
// default is not what happens. Writing one buffer costs a fraction of what
// Beast's serializer costs for the same small message (a profile of the
// accept path had the serializer at a fifth of the event loop's work).
// For a HEAD request (head_request), the same header with the Content-Length
// a GET would get, and no body (RFC 9110 section 9.3.2).
inline std::string to_wire(const Response& response, unsigned version, bool keep_alive,
                           const std::string& server_name, bool head_request = false) {
  const auto status = static_cast<bhttp::status>(response.status);
  const bool bodiless =
      (response.status >= 100 && response.status < 200) || response.status == 204 ||
      response.status == 304;
  std::string out;
  out.reserve(128 + server_name.size() + response.body.size());
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += bhttp::obsolete_reason(status);
  out += "\r\nServer: ";
  out += server_name;
  out += "\r\n";
  for (const auto& [name, value] : response.headers.fields()) {
    if (iequals(name, "Content-Length") || iequals(name, "Connection") ||
        iequals(name, "Server") || iequals(name, "Transfer-Encoding")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!bodiless) {
    out += "Content-Length: ";
    out += std::to_string(response.body.size());
    out += "\r\n";
  }
  if (version >= 11 && !keep_alive) {
    out += "Connection: close\r\n";
  } else if (version < 11 && keep_alive) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!bodiless && !head_request) {
    out += response.body;
  }
  return out;
}

// A client request on the wire, in one buffer: request line, Host,
// User-Agent, the caller's fields (but Content-Length, Host, Connection and
// Transfer-Encoding, which are set here), Content-Length. Keep-alive is
// HTTP/1.1's default.
inline std::string request_to_wire(const ClientRequest& request, const std::string& target,
                                   const std::string& host, const std::string& user_agent) {
  std::string out;
  out.reserve(160 + target.size() + request.body.size());
  out += request.method;
  out += ' ';
  out += target;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\nUser-Agent: ";
  out += user_agent;
  out += "\r\n";
  for (const auto& [name, value] : request.headers.fields()) {
    if (iequals(name, "Content-Length") || iequals(name, "Connection") ||
        iequals(name, "Host") || iequals(name, "Transfer-Encoding") ||
        iequals(name, "User-Agent")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    out += "Content-Length: ";
    out += std::to_string(request.body.size());
    out += "\r\n";
  }
  out += "\r\n";
  out += request.body;
  return out;
}

}  // namespace ocirelay::http
