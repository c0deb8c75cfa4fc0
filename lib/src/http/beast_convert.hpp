// Translation between the project's Beast-free messages (http/message.hpp)
// and Beast's types. Private to the http area; only server.cpp and client.cpp
// include it.
#pragma once

#include <string>

#include <boost/beast/http.hpp>

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

inline bhttp::response<bhttp::string_body> to_beast(Response response, unsigned version,
                                                    bool keep_alive,
                                                    const std::string& server_name) {
  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), version};
  res.set(bhttp::field::server, server_name);
  for (auto& [name, value] : response.headers.fields()) {
    res.insert(name, value);
  }
  res.body() = std::move(response.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

}  // namespace ocirelay::http
