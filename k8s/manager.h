// drop-controller-manager: the operator process. It waits to lead (when asked to), opens the
// journal and rebuilds its state (newest snapshot + tail), journals its start, relists the
// cluster through the informers, and runs the core's loop with the API executor until SIGTERM:
// then it stops taking inputs, commits and acts on the batch in hand, releases the Lease, and
// returns 0.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"

namespace drop::k8s {

struct ManagerOptions {
  std::string kubeconfig;
  std::string context;
  std::string metrics_bind_address = ":8443";       // "0": off
  std::string health_probe_bind_address = ":8081";  // "0": off
  bool leader_elect = false;
  std::string namespace_ = "drop-system";
  std::string journal_dir = "/var/lib/drop/journal";
  int64_t journal_retention_ms = 7 * 24 * 3600 * 1000LL;  // 0: keep everything
  std::string log_level = "info";
  std::string operator_image;  // the image drop pods' init container copies drop-noop from
  std::string identity;        // this replica; default: $POD_NAME, else the host name
  double qps = 50;
  int burst = 100;
};

// Runs the operator until SIGTERM or SIGINT. The returned status explains a failure to start or
// a fatal error (the journal failing, leadership lost); the process exits non-zero on it.
Status RunManager(const ManagerOptions& options);

}  // namespace drop::k8s
