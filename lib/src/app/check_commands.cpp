#include "app/check_commands.hpp"

#include <cstdio>

#include "app/postgresql_options.hpp"
#include "ocirelay/app/exit_codes.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/http/tls_context.hpp"
#include "ocirelay/http/url.hpp"
#include "ocirelay/oci/vault_secret_reader.hpp"
#include "ocirelay/storage/storage_check.hpp"

namespace ocirelay::app {

std::vector<std::string> check_tls_files(const config::Config& c) {
  std::vector<std::string> problems;
  const std::string file = c.source_file.empty() ? "(embedded)" : c.source_file;
  if (c.server.tls) {
    auto ctx = http::make_server_tls_context(c.server.tls->cert_file, c.server.tls->key_file);
    if (!ctx) problems.push_back(file + ": server.tls: " + ctx.error());
  }
  if (c.management.tls) {
    auto ctx =
        http::make_server_tls_context(c.management.tls->cert_file, c.management.tls->key_file);
    if (!ctx) problems.push_back(file + ": management.tls: " + ctx.error());
  }
  // Outbound TLS without a ca_file needs the system CA bundle
  // (http/system_trust.hpp): a machine without one fails here, not at start.
  if (c.server.ons.auto_confirm) {
    auto ctx =
        http::make_client_tls_context(http::ClientTlsOptions{c.server.ons.ca_file, true, {}, {}});
    if (!ctx) problems.push_back(file + ": server.ons: " + ctx.error());
  }
  for (std::size_t i = 0; i < c.destinations.size(); ++i) {
    const auto& t = c.destinations[i].tls;
    const auto url = http::parse_url(c.destinations[i].url);
    if (!url || !url->tls) continue;
    auto ctx = http::make_client_tls_context(
        http::ClientTlsOptions{t.ca_file, t.verify, t.cert_file, t.key_file});
    if (!ctx) {
      problems.push_back(file + ": destinations[" + std::to_string(i) + "].tls: " + ctx.error());
    }
  }
  return problems;
}

int storage_check(const CommandLine& cl, const std::string& program) {
  std::string path = cl.storage_path;
  if (path.empty()) {
    auto loaded = config::load_config(cl.config_path, oci::secret_sources_with_vault());
    if (!loaded) {
      for (const auto& e : loaded.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
      std::fprintf(stderr,
                   "%s: configuration invalid (%zu error%s); name the file with --storage PATH "
                   "instead\n",
                   program.c_str(), loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
      return kExitUsage;
    }
    if (loaded.value().storage.backend == config::Storage::Backend::postgresql) {
      const auto report =
          storage::check_postgresql_storage(postgresql_options(loaded.value().storage.postgresql));
      std::fputs(storage::format_storage_check(report).c_str(), stdout);
      std::fflush(stdout);
      return storage::storage_check_exit_code(report);
    }
    path = loaded.value().storage.path;
  }
  const auto report = storage::check_sqlite_storage(path);
  std::fputs(storage::format_storage_check(report).c_str(), stdout);
  std::fflush(stdout);
  return storage::storage_check_exit_code(report);
}

int check_storage_connection(const config::Config& c, const std::string& file) {
  if (c.storage.backend != config::Storage::Backend::postgresql) {
    std::printf("%s: storage: sqlite (%s); --connect has no database server to reach\n",
                file.c_str(), c.storage.path.c_str());
    return kExitOk;
  }
  auto probe = storage::probe_postgresql(postgresql_options(c.storage.postgresql));
  if (!probe) {
    // The message names storage.postgresql.url, never its value.
    std::fprintf(stderr, "%s: %s\n", file.c_str(), probe.error().message.c_str());
    return kExitStorage;
  }
  const std::string text = storage::describe_probe(probe.value());
  if (probe.value().schema == storage::PostgresqlProbe::Schema::newer) {
    std::fprintf(stderr, "%s: storage.postgresql: %s\n", file.c_str(), text.c_str());
    return kExitStorage;
  }
  std::printf("%s: storage.postgresql: connected: %s\n", file.c_str(), text.c_str());
  return kExitOk;
}

}  // namespace ocirelay::app
