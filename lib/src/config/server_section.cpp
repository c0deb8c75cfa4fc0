// `server:`: the ingress listener, its TLS, limits and timeouts, ingress
// authentication and ONS subscription confirmation.
#include <cstddef>
#include <limits>
#include <utility>

#include "config/field_table.hpp"
#include "config/net_checks.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr std::uint64_t kMaxSize = std::numeric_limits<std::size_t>::max();

constexpr auto kServerTlsFields = fields<ServerTls>({
    {"cert_file",
     [](auto& w, auto& value, auto& path, ServerTls& out) {
       read_file(w, value, path, out.cert_file, "TLS certificate", true);
     },
     Presence::required},
    {"key_file",
     [](auto& w, auto& value, auto& path, ServerTls& out) {
       read_file(w, value, path, out.key_file, "TLS private key", true);
     },
     Presence::required},
});

constexpr auto kIngressAuthFields = fields<IngressAuth>({
    {"basic",
     [](auto& w, auto& value, auto& path, IngressAuth& out) {
       if (!w.expect_sequence(value, path, "{username, password} mappings")) {
         return;
       }
       for (std::size_t i = 0; i < value.items.size(); ++i) {
         BasicCredential credential;
         if (kCredentialFields.read(w, value.items[i], SchemaWalker::index(path, i),
                                    credential)) {
           out.basic.push_back(std::move(credential));
         }
       }
     }},
    {"bearer_tokens",
     [](auto& w, auto& value, auto& path, IngressAuth& out) {
       auto list = w.text_list(value, path, false);
       if (!list) {
         return;
       }
       for (std::size_t i = 0; i < list->size(); ++i) {
         if ((*list)[i].empty()) {
           w.error(value.items[i], SchemaWalker::index(path, i),
                   "a bearer token must not be empty");
         }
       }
       out.bearer_tokens = std::move(*list);
     }},
});

void read_ingress_auth(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                       std::optional<IngressAuth>& out) {
  if (!kIngressAuthFields.expect(w, node, path)) {
    return;
  }
  const std::size_t errors_before = w.error_count();
  IngressAuth auth;
  kIngressAuthFields.read_fields(w, node, path, auth);
  if (w.error_count() == errors_before && auth.basic.empty() && auth.bearer_tokens.empty()) {
    w.error(node, path,
            "configures no credentials: give basic and/or bearer_tokens, or remove auth to "
            "accept requests without authentication");
  }
  out = std::move(auth);
}

constexpr auto kOnsFields = fields<Ons>({
    {"auto_confirm", bool_field<&Ons::auto_confirm>},
    {"confirm_url_hosts",
     [](auto& w, auto& value, auto& path, Ons& out) {
       if (!w.expect_sequence(value, path, "host name patterns")) {
         return;
       }
       std::vector<std::string> patterns;
       for (std::size_t i = 0; i < value.items.size(); ++i) {
         const ConfigNode& item = value.items[i];
         const std::string ip = SchemaWalker::index(path, i);
         auto pattern = w.text(item, ip);
         if (!pattern) {
           continue;
         }
         if (auto problem = host_pattern_problem(*pattern)) {
           w.error(item, ip, "bad host pattern " + quote(item.text) + ": " + *problem);
           continue;
         }
         patterns.push_back(std::move(*pattern));
       }
       out.confirm_url_hosts = std::move(patterns);
     }},
    {"ca_file",
     [](auto& w, auto& value, auto& path, Ons& out) {
       read_file(w, value, path, out.ca_file, "CA certificate", false);
     }},
    {"confirm_timeout", duration_field<&Ons::confirm_timeout, 1>},
});

constexpr auto kServerFields = fields<Server>({
    {"listen", member_field<&Server::listen, read_listen>},
    {"tls", member_field<&Server::tls, read_server_tls>},
    {"max_body_bytes", integer_field<&Server::max_body_bytes, 1, kMaxSize>},
    {"max_batch_events", integer_field<&Server::max_batch_events, 1, kMaxSize>},
    {"max_header_bytes", integer_field<&Server::max_header_bytes, 1, kMaxSize>},
    {"max_connections", integer_field<&Server::max_connections, 1, kMaxSize>},
    {"header_timeout", duration_field<&Server::header_timeout, 1>},
    {"body_timeout", duration_field<&Server::body_timeout, 1>},
    {"idle_timeout", duration_field<&Server::idle_timeout, 1>},
    {"write_timeout", duration_field<&Server::write_timeout, 1>},
    {"shutdown_timeout", duration_field<&Server::shutdown_timeout>},
    {"auth", member_field<&Server::auth, read_ingress_auth>},
    {"ons", mapping_field<&Server::ons, kOnsFields>},
});

}  // namespace

void read_listen(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                 ListenAddress& out) {
  auto text = w.text(value, path);
  if (!text) {
    return;
  }
  auto address = parse_listen_address(*text);
  if (!address) {
    w.error(value, path, "bad listen address " + quote(value.text) + ": " + address.error());
    return;
  }
  out = std::move(address).value();
}

void read_server_tls(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                     std::optional<ServerTls>& out) {
  ServerTls tls;
  if (kServerTlsFields.read(w, value, path, tls)) {
    out = std::move(tls);
  }
}

void read_server(SchemaWalker& w, const ConfigNode& value, const std::string& path, Server& out) {
  kServerFields.read(w, value, path, out);
}

}  // namespace ocirelay::config::detail
