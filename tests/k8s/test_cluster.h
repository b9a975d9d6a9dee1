// A real test cluster (tests/cluster: kube-apiserver, etcd, scheduler, controller manager and
// simulated nodes) for one test, started in a temporary directory and brought down when the
// fixture goes, also when the test fails; its watchdog follows this process, so a killed test
// leaves nothing behind. A failed test keeps the directory and says where
// (DROP_KEEP_CLUSTER_DIR=1 keeps it always).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "k8s/config.h"
#include "tests/k8s/process.h"

namespace drop::k8s::testing {

class TestCluster {
 public:
  // `drop-testcluster up --dir D --exit-with-pid <this process> args...`.
  static Result<std::unique_ptr<TestCluster>> Start(const std::vector<std::string>& args);
  ~TestCluster();

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }  // the fault proxy's, if any
  std::string direct_kubeconfig() const { return dir_ + "/kubeconfig.direct"; }
  std::string audit_log() const { return dir_ + "/audit.jsonl"; }
  std::string server() const;        // the API server's own address
  std::string proxy_server() const;  // the fault proxy's ("" without one)
  std::string ca_pem() const { return ReadFile(dir_ + "/pki/ca.crt"); }

  // kubectl against the API server directly (never through the fault proxy).
  ProcessResult Kubectl(const std::vector<std::string>& args, const std::string& input = "") const;
  // `drop-testcluster <command> --dir D args...` (restart, fault).
  ProcessResult Testcluster(const std::string& command, const std::vector<std::string>& args) const;

  // The admin configuration (a client certificate), direct or through the proxy.
  Config AdminConfig(bool through_proxy = false) const;

  // A ServiceAccount `name` in `ns` bound to ClusterRole `cluster_role` (none if empty), and a
  // token for it from `kubectl create token`.
  Result<std::string> ServiceAccountToken(const std::string& ns, const std::string& name,
                                          const std::string& cluster_role) const;
  // A Config for a bearer token, with the cluster's CA.
  Config TokenConfig(const std::string& token, bool through_proxy = false) const;

  // Creates a namespace and waits for its default ServiceAccount (pods need it).
  Status Namespace(const std::string& name) const;

  // Installs the CachedImage, PullPolicy and DiscoveryPolicy CRDs and waits for them.
  Status InstallCrds() const;

 private:
  explicit TestCluster(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Where drop-testcluster and its binaries are.
std::string ClusterBinDir();
// tests/k8s/testdata.
std::string TestDataDir();

}  // namespace drop::k8s::testing
