#include "tests/k8s/test_cluster.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "k8s/json_util.h"

namespace drop::k8s::testing {

namespace json = boost::json;

std::string ClusterBinDir() {
  if (const char* d = std::getenv("DROP_CLUSTER_BIN")) return d;
  return DROP_CLUSTER_BIN;
}

std::string TestDataDir() {
  return DROP_K8S_TESTDATA;
}

Result<std::unique_ptr<TestCluster>> TestCluster::Start(const std::vector<std::string>& args) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / "drop-k8s-cluster-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) return Status::IOError("mkdtemp failed");
  std::unique_ptr<TestCluster> c(new TestCluster(pattern));
  std::vector<std::string> argv{ClusterBinDir() + "/drop-testcluster",
                                "up",
                                "--dir",
                                c->dir_,
                                "--exit-with-pid",
                                std::to_string(getpid()),
                                "--timeout",
                                "5m"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult up = Run(argv);
  if (up.exit_code != 0) {
    return Status::Unavailable("drop-testcluster up: " + up.Describe() + "\n" + up.out);
  }
  std::cerr << "[cluster] up in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count()
            << " ms: " << c->dir_ << "\n";
  return c;
}

TestCluster::~TestCluster() {
  ProcessResult down = Run({ClusterBinDir() + "/drop-testcluster", "down", "--dir", dir_});
  if (down.exit_code != 0) std::cerr << "[cluster] down: " << down.Describe() << "\n";
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  bool failed = info != nullptr && info->result()->Failed();
  if (failed || std::getenv("DROP_KEEP_CLUSTER_DIR") != nullptr) {
    std::cerr << "[cluster] directory kept: " << dir_ << "\n";
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string TestCluster::server() const {
  json::value v = json::parse(ReadFile(dir_ + "/cluster.json"));
  return std::string(GetString(v.as_object(), "server"));
}

std::string TestCluster::proxy_server() const {
  json::value v = json::parse(ReadFile(dir_ + "/cluster.json"));
  return std::string(GetString(v.as_object(), "proxyServer"));
}

ProcessResult TestCluster::Kubectl(const std::vector<std::string>& args,
                                   const std::string& input) const {
  std::vector<std::string> argv{"kubectl"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, {{"KUBECONFIG", direct_kubeconfig()}}, input);
}

ProcessResult TestCluster::Testcluster(const std::string& command,
                                       const std::vector<std::string>& args) const {
  std::vector<std::string> argv{ClusterBinDir() + "/drop-testcluster", command, "--dir", dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

Config TestCluster::AdminConfig(bool through_proxy) const {
  Result<Config> c = LoadKubeconfig({through_proxy ? kubeconfig() : direct_kubeconfig()}, "");
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : Config{};
}

Config TestCluster::TokenConfig(const std::string& token, bool through_proxy) const {
  Config c;
  c.server = through_proxy ? proxy_server() : server();
  c.ca_pem = ca_pem();
  c.ca_source = dir_ + "/pki/ca.crt";
  c.token = token;
  c.namespace_ = "default";
  c.source = "test token";
  return c;
}

Result<std::string> TestCluster::ServiceAccountToken(const std::string& ns, const std::string& name,
                                                     const std::string& cluster_role) const {
  ProcessResult r = Kubectl({"create", "namespace", ns});
  (void)r;  // it may exist
  r = Kubectl({"create", "serviceaccount", "-n", ns, name});
  if (r.exit_code != 0 && r.err.find("AlreadyExists") == std::string::npos &&
      r.err.find("already exists") == std::string::npos) {
    return Status::Unavailable("create serviceaccount: " + r.Describe());
  }
  if (!cluster_role.empty()) {
    r = Kubectl({"create", "clusterrolebinding", ns + "-" + name + "-" + cluster_role,
                 "--clusterrole=" + cluster_role, "--serviceaccount=" + ns + ":" + name});
    if (r.exit_code != 0 && r.err.find("already exists") == std::string::npos) {
      return Status::Unavailable("create clusterrolebinding: " + r.Describe());
    }
  }
  r = Kubectl({"create", "token", "-n", ns, name, "--duration=1h"});
  if (r.exit_code != 0) return Status::Unavailable("create token: " + r.Describe());
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == ' '))
    token.pop_back();
  return token;
}

Status TestCluster::Namespace(const std::string& name) const {
  ProcessResult r = Kubectl({"create", "namespace", name});
  if (r.exit_code != 0 && r.err.find("already exists") == std::string::npos) {
    return Status::Unavailable("create namespace: " + r.Describe());
  }
  for (int i = 0; i < 300; ++i) {
    if (Kubectl({"get", "serviceaccount", "-n", name, "default"}).exit_code == 0)
      return Status::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Unavailable("no default ServiceAccount in namespace " + name);
}

Status TestCluster::InstallCrds() const {
  ProcessResult r = Kubectl({"apply", "-f", TestDataDir() + "/crds.yaml"});
  if (r.exit_code != 0) return Status::Unavailable("kubectl apply crds: " + r.Describe());
  r = Kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd/cachedimages.drop.io",
               "crd/pullpolicies.drop.io", "crd/discoverypolicies.drop.io"});
  if (r.exit_code != 0) return Status::Unavailable("kubectl wait crds: " + r.Describe());
  // The API server serves a new CRD's endpoints a moment after Established.
  for (int i = 0; i < 100; ++i) {
    if (Kubectl({"get", "cachedimages,pullpolicies,discoverypolicies"}).exit_code == 0) {
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return Status::Unavailable("the CRDs are not served");
}

}  // namespace drop::k8s::testing
