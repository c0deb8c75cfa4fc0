#include "config/management_schema.hpp"

#include <array>
#include <cstring>
#include <string_view>
#include <utility>

#include <arpa/inet.h>

#include "config/net_checks.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr auto kManagementKeys = std::to_array<std::string_view>({"listen", "tls"});

bool is_wildcard(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return v4.s_addr == htonl(INADDR_ANY);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return std::memcmp(&v6, &in6addr_any, sizeof v6) == 0;
  }
  return false;
}

std::string format_address(const ListenAddress& a) {
  const bool v6 = a.host.find(':') != std::string::npos;
  return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

}  // namespace

bool listen_addresses_clash(const ListenAddress& a, const ListenAddress& b) {
  if (a.port == 0 || a.port != b.port) return false;
  return a.host == b.host || is_wildcard(a.host) || is_wildcard(b.host);
}

void read_management(SchemaWalker& w, const ConfigNode& root, const ListenAddress& ingress,
                     Management& out) {
  const ConfigNode* node = SchemaWalker::get(root, "management");
  const ConfigNode* listen = node != nullptr ? SchemaWalker::get(*node, "listen") : nullptr;
  if (node != nullptr && !w.expect_mapping(*node, "management", kManagementKeys)) {
    return;
  }
  if (listen != nullptr) {
    const std::string lp = "management.listen";
    if (auto text = w.text(*listen, lp)) {
      if (text->empty()) {
        out.listen.reset();
      } else if (auto address = parse_listen_address(*text); !address) {
        w.error(*listen, lp,
                "bad listen address " + quote(listen->text) + ": " + address.error() +
                    " (or \"\" to serve every endpoint on the ingress port)");
      } else if (listen_addresses_clash(address.value(), ingress)) {
        w.error(*listen, lp,
                "listen address " + quote(listen->text) + " is taken by server.listen (" +
                    format_address(ingress) +
                    "); give the management endpoint a port of its own, or \"\" to serve "
                    "every endpoint on the ingress port");
      } else {
        out.listen = std::move(address).value();
      }
    }
  } else if (out.listen && listen_addresses_clash(*out.listen, ingress)) {
    // Only a server.listen written in the file can meet the default.
    const ConfigNode* server = SchemaWalker::get(root, "server");
    const ConfigNode* at = server != nullptr ? SchemaWalker::get(*server, "listen") : nullptr;
    w.error(at != nullptr ? *at : root, "server.listen",
            "port " + std::to_string(ingress.port) + " is taken by the management endpoint (" +
                "management.listen defaults to " + format_address(*out.listen) +
                "); choose another port, or set management.listen");
  }
  if (node == nullptr) {
    return;
  }
  if (const ConfigNode* tls = SchemaWalker::get(*node, "tls")) {
    if (listen != nullptr && !out.listen) {
      w.error(*tls, "management.tls",
              "needs a management listener, but management.listen is \"\" (every endpoint is "
              "served on the ingress port, with server.tls)");
    } else {
      read_server_tls(w, *tls, "management.tls", out.tls);
    }
  }
}

}  // namespace ocirelay::config::detail
