// One relay under test: a temporary directory holding its configuration,
// storage and log, and the ocirelayd process running on them.
//
//   RelayHarness relay(R"(
//   destinations:
//     - name: oic
//       url: )" + oic.url("/flow") + R"(
//   routes:
//     - { name: all, destinations: [oic] }
//   )");
//   relay.start();
//   TestClient client(relay.port());
//
// The harness writes `server.listen: 127.0.0.1:0`, `management.listen:
// 127.0.0.1:0` (or the given `management:` section), `storage.path` and
// `log.level: debug` (and `log.flush_interval: 0s`: every line written at
// once) itself, so the given YAML must not have `server:`, `management:`,
// `storage:` or `log:` sections (see base_yaml()).
// GET /metrics, /ready and the detailed /health are on management_port();
// the ingress port() has POST /v1/events and the minimal /health (all of them
// with kNoManagementYaml).
#pragma once

#include <memory>
#include <string>

#include "support/daemon_process.hpp"
#include "support/temp_dir.hpp"

namespace ocirelay::test {

// A `management:` section listening on 127.0.0.1:0 (plain HTTP), and one
// with `listen: ""` (no management listener: the ingress port serves all).
extern const std::string kManagementYaml;
extern const std::string kNoManagementYaml;

class RelayHarness {
 public:
  // storage_yaml: a whole `storage:` section in place of the SQLite one
  // (e.g. postgresql_storage_yaml()).
  explicit RelayHarness(const std::string& yaml_tail, const std::string& server_yaml = {},
                        const std::string& management_yaml = kManagementYaml,
                        const std::string& storage_yaml = {});

  const TempDir& dir() const noexcept { return dir_; }
  std::string storage_path() const { return dir_.file("queue.db"); }
  std::string config_path() const { return dir_.file("ocirelay.yaml"); }

  // Replaces the configuration file (for restarts with another config).
  void rewrite(const std::string& yaml_tail, const std::string& server_yaml = {},
               const std::string& management_yaml = kManagementYaml,
               const std::string& storage_yaml = {});

  void start();
  DaemonProcess& daemon() { return *daemon_; }
  std::uint16_t port() const { return daemon_->port(); }
  std::uint16_t management_port() { return daemon_->management_port(); }
  std::string log() const { return daemon_->log(); }

  DaemonProcess::Options& options() noexcept { return options_; }

 private:
  TempDir dir_;
  DaemonProcess::Options options_;
  std::unique_ptr<DaemonProcess> daemon_;
};

// `server:` (plain HTTP on 127.0.0.1:0 plus `server_extra` indented lines),
// `management:` (the section given), `storage:` (SQLite in `dir`, or
// `storage_yaml` when given) and `log:` sections for a relay living in `dir`.
std::string base_yaml(const TempDir& dir, const std::string& server_extra = {},
                      const std::string& management_yaml = kManagementYaml,
                      const std::string& storage_yaml = {});

// A `storage:` section for the PostgreSQL backend: the database at `url`,
// this relay's node_id, and `extra` lines under `postgresql:` (indented by
// four spaces, e.g. "    lease: 2s\n").
std::string postgresql_storage_yaml(const std::string& url, const std::string& node_id,
                                    const std::string& extra = {});

// The `server.tls` lines of server_yaml for HTTPS with this certificate.
std::string server_tls_yaml(const std::string& cert_file, const std::string& key_file);

}  // namespace ocirelay::test
