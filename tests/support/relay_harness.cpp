#include "support/relay_harness.hpp"

namespace ocirelay::test {

const std::string kManagementYaml = "management:\n  listen: \"127.0.0.1:0\"\n";
const std::string kNoManagementYaml = "management:\n  listen: \"\"\n";

std::string base_yaml(const TempDir& dir, const std::string& server_extra,
                      const std::string& management_yaml, const std::string& storage_yaml) {
  return "server:\n"
         "  listen: \"127.0.0.1:0\"\n" +
         server_extra + management_yaml +
         (storage_yaml.empty() ? "storage:\n  path: " + dir.file("queue.db") + "\n"
                               : storage_yaml) +
         "log:\n"
         "  level: debug\n"
         // Tests read the log right after what they check; the buffered
         // default (log.flush_interval 1s) has its own tests in logging_test.
         "  flush_interval: 0s\n";
}

std::string postgresql_storage_yaml(const std::string& url, const std::string& node_id,
                                    const std::string& extra) {
  return "storage:\n"
         "  backend: postgresql\n"
         "  postgresql:\n"
         "    url: \"" +
         url + "\"\n    node_id: " + node_id + "\n" + extra;
}

std::string server_tls_yaml(const std::string& cert_file, const std::string& key_file) {
  return "  tls:\n    cert_file: " + cert_file + "\n    key_file: " + key_file + "\n";
}

RelayHarness::RelayHarness(const std::string& yaml_tail, const std::string& server_yaml,
                           const std::string& management_yaml, const std::string& storage_yaml) {
  options_.config_file = config_path();
  options_.log_file = dir_.file("ocirelay.log");
  rewrite(yaml_tail, server_yaml, management_yaml, storage_yaml);
}

void RelayHarness::rewrite(const std::string& yaml_tail, const std::string& server_yaml,
                           const std::string& management_yaml, const std::string& storage_yaml) {
  dir_.write("ocirelay.yaml",
             base_yaml(dir_, server_yaml, management_yaml, storage_yaml) + yaml_tail);
}

void RelayHarness::start() {
  daemon_ = std::make_unique<DaemonProcess>(options_);
  daemon_->start();
}

}  // namespace ocirelay::test
