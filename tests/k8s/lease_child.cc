// A replica for the leader election test: campaigns for the Lease and, while Leading(), "acts"
// by writing a ConfigMap every 100 ms, so the API server's audit log shows who acted when (by
// User-Agent). SIGTERM stops it and releases the Lease.
//
//   lease_child KUBECONFIG IDENTITY
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "k8s/io_thread.h"
#include "k8s/leader_election.h"
#include "k8s/resource.h"

namespace {

volatile std::sig_atomic_t stop = 0;

void OnTerm(int) {
  stop = 1;
}

void Log(const std::string& identity, const std::string& what) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::printf("%lld %s %s\n", static_cast<long long>(ms), identity.c_str(), what.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace drop::k8s;
  if (argc != 3) {
    std::cerr << "usage: lease_child KUBECONFIG IDENTITY\n";
    return 2;
  }
  const std::string identity = argv[2];
  std::signal(SIGTERM, OnTerm);
  drop::Result<Config> config = LoadKubeconfig({argv[1]}, "");
  if (!config.ok()) {
    std::cerr << config.status().ToString() << "\n";
    return 1;
  }
  IoThread io;
  ClientOptions options;
  options.identity = identity;
  options.qps = 0;  // nothing between the Leading() check and the write
  options.max_retries = 0;
  drop::Result<std::shared_ptr<Client>> client = Client::Create(io.executor(), *config, options);
  if (!client.ok()) {
    std::cerr << client.status().ToString() << "\n";
    return 1;
  }
  LeaderElectionOptions le;
  le.identity = identity;
  LeaderCallbacks callbacks;
  callbacks.started_leading = [&] { Log(identity, "started leading"); };
  callbacks.stopped_leading = [&] { Log(identity, "stopped leading"); };
  callbacks.new_leader = [&](const std::string& who) {
    Log(identity, "leader is \"" + who + "\"");
  };
  drop::Result<std::unique_ptr<LeaderElector>> elector =
      LeaderElector::Create(io.executor(), *config, options, le, callbacks);
  if (!elector.ok()) {
    std::cerr << elector.status().ToString() << "\n";
    return 1;
  }
  (*elector)->Start();
  for (int n = 0; !stop; ++n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!(*elector)->Leading()) continue;
    std::string patch =
        R"({"data":{"holder":")" + identity + R"(","n":")" + std::to_string(n) + "\"}}";
    ApiResult<boost::json::object> r = RunSync(
        io.executor(),
        (*client)->Patch(kConfigMaps, "drop-system", "leader-work", "", PatchType::kMerge, patch));
    if (!r.ok()) Log(identity, "write failed: " + r.status().message());
  }
  (*elector)->Stop();
  bool stopped = (*elector)->WaitStopped(std::chrono::seconds(10));
  Log(identity, stopped ? "released" : "did not stop in time");
  io.Stop();
  return stopped ? 0 : 1;
}
