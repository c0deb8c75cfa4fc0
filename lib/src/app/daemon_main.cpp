#include "ocirelay/app/daemon_main.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include "app/check_commands.hpp"
#include "app/storage_copy_command.hpp"
#include "ocirelay/app/application.hpp"
#include "ocirelay/app/command_line.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/delivery/batch_plan.hpp"
#include "ocirelay/oci/vault_secret_reader.hpp"
#include "ocirelay_version.hpp"

namespace ocirelay::app {

int daemon_main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  const std::string program = argc > 0 ? argv[0] : "ocirelayd";
  auto cl = parse_command_line(args);
  if (!cl) {
    std::fprintf(stderr, "%s: %s\n%s", program.c_str(), cl.error().c_str(), usage(program).c_str());
    return kExitUsage;
  }
  if (cl->help) {
    std::fputs(usage(program).c_str(), stdout);
    return kExitOk;
  }
  if (cl->version) {
    std::printf("ocirelayd %s\n", kVersion);
    return kExitOk;
  }
  if (cl->command == CommandLine::Command::storage_check) return storage_check(*cl, program);
  if (cl->command == CommandLine::Command::storage_copy) return storage_copy(*cl, program);
  auto loaded = cl->config_path.empty()
                    ? config::parse_config(config::embedded_default_config(), "(embedded dev.yaml)")
                    : config::load_config(cl->config_path, oci::secret_sources_with_vault());
  if (!loaded) {
    for (const auto& e : loaded.error()) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    std::fprintf(stderr, "%s: configuration invalid (%zu error%s)\n", program.c_str(),
                 loaded.error().size(), loaded.error().size() == 1 ? "" : "s");
    return kExitUsage;
  }
  if (cl->check_config) {
    // Beyond the schema: the TLS files must load as certificates and keys.
    const auto problems = check_tls_files(loaded.value());
    for (const auto& p : problems) std::fprintf(stderr, "%s\n", p.c_str());
    if (!problems.empty()) {
      std::fprintf(stderr, "%s: configuration invalid (%zu error%s)\n", program.c_str(),
                   problems.size(), problems.size() == 1 ? "" : "s");
      return kExitUsage;
    }
    const std::string file = cl->config_path.empty() ? "(embedded dev.yaml)" : cl->config_path;
    std::printf("%s: configuration OK\n", file.c_str());
    for (const auto& d : loaded.value().destinations) {
      if (d.batch.enabled()) {
        std::printf("destination %s: %s\n", d.name.c_str(),
                    delivery::describe_batch(d.batch).c_str());
      }
    }
    if (cl->connect) {
      std::fflush(stdout);
      return check_storage_connection(loaded.value(), file);
    }
    return kExitOk;
  }
  auto app = Application::create(std::move(loaded).value());
  if (!app) {
    std::fprintf(stderr, "%s: cannot start: %s\n", program.c_str(), app.error().message.c_str());
    return app.error().exit_code;
  }
  return app.value()->run();
}

}  // namespace ocirelay::app
