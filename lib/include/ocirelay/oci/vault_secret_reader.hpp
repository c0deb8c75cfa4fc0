// `${vault:<secret OCID>}` for the configuration loader, which is
// synchronous: read() runs a VaultClient to completion on an io_context of
// its own, on the calling thread, within a time budget for the whole load (a
// blocking call: at start, in --check-config, and at SIGHUP on the daemon's
// thread, where it holds the event loop for at most the budget: the reload
// uses 10 s, well within half the unit's WatchdogSec).
//
// Thread and lifetime contract: one reader per configuration load, used by
// one thread at a time. It keeps its VaultClient (and so one instance
// principal session) for every secret of the load, as long as the `oci`
// settings stay the same.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "ocirelay/common/duration.hpp"
#include "ocirelay/common/result.hpp"
#include "ocirelay/config/config.hpp"
#include "ocirelay/config/loader.hpp"

namespace ocirelay::oci {

class VaultClient;

class VaultSecretReader {
 public:
  // `budget`: how long all the reads of this reader may take together,
  // counted from its construction.
  explicit VaultSecretReader(Duration budget = std::chrono::seconds(30));
  ~VaultSecretReader();
  VaultSecretReader(const VaultSecretReader&) = delete;
  VaultSecretReader& operator=(const VaultSecretReader&) = delete;

  // The secret's content, or why not (naming no secret).
  Result<std::string, std::string> read(const config::Oci& oci, const std::string& ocid);

 private:
  Duration budget_;
  std::chrono::steady_clock::time_point deadline_;
  boost::asio::io_context io_;
  std::optional<config::Oci> oci_;  // what client_ was made for
  std::unique_ptr<VaultClient> client_;
};

// The default secret sources with `${vault:}` through a VaultSecretReader of
// their own (make one set per configuration load, just before it), whose
// reads may take `budget` in all.
config::SecretSources secret_sources_with_vault(Duration budget = std::chrono::seconds(30));

}  // namespace ocirelay::oci
