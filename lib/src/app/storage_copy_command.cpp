#include "app/storage_copy_command.hpp"

#include <cstdio>

#include "app/postgresql_options.hpp"
#include "ocirelay/app/exit_codes.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/oci/vault_secret_reader.hpp"
#include "ocirelay/storage/storage_copy.hpp"

namespace ocirelay::app {

int storage_copy(const CommandLine& cl, const std::string& program) {
  auto loaded = config::load_config(cl.copy_to_config, oci::secret_sources_with_vault());
  if (!loaded) {
    for (const auto& e : loaded.error()) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::fprintf(stderr, "%s: configuration invalid (%zu error%s)\n", program.c_str(),
                 loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
    return kExitUsage;
  }
  const config::Storage& storage = loaded.value().storage;
  if (storage.backend != config::Storage::Backend::postgresql) {
    std::fprintf(stderr,
                 "%s: storage copy: --to-config %s: storage.backend is sqlite; the copy goes "
                 "into a PostgreSQL database (storage.backend: postgresql)\n",
                 program.c_str(), cl.copy_to_config.c_str());
    return kExitUsage;
  }
  auto copied =
      storage::copy_sqlite_to_postgresql(cl.copy_from, postgresql_options(storage.postgresql));
  if (!copied) {
    std::fprintf(stderr, "%s: %s; nothing was copied\n", program.c_str(),
                 copied.error().message.c_str());
    return kExitStorage;
  }
  std::fputs(storage::format_storage_copy(copied.value()).c_str(), stdout);
  std::fflush(stdout);
  return kExitOk;
}

}  // namespace ocirelay::app
