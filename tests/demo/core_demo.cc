// core_demo: what `make demo` runs until the operator exists. The real core (fold, reconcile,
// pacing, loop) drives a simulated 30-node cluster on a virtual clock, and prints the view
// `kubectl get cachedimages` will give, as the rollout goes.
#include <cstdio>
#include <string>

#include "core/duration.h"
#include "core/pacing.h"
#include "tests/support/builders.h"
#include "tests/support/world.h"

using namespace drop;           // NOLINT(build/namespaces)
using namespace drop::testing;  // NOLINT(build/namespaces)

namespace {

void PrintTable(const World& w, int64_t start) {
  std::printf("\n t=%-6s %-10s %-9s %-7s %s\n", FormatDuration(w.now() - start).c_str(), "NAME",
              "PHASE", "READY", "CONDITION");
  for (const char* name : {"base", "ml-runtime", "broken"}) {
    const v1::CachedImageStatus& s = w.Image(name).status();
    std::string reason = s.conditions_size() > 0 ? s.conditions(0).reason() : "";
    std::printf("          %-10s %-9s %3d/%-3d %s\n", name, s.phase().c_str(), s.nodes_ready(),
                s.nodes_targeted(), reason.c_str());
  }
}

}  // namespace

int main() {
  std::printf(
      "drop demo: the event-sourced core on a simulated cluster (virtual time).\n"
      "The operator and the real test cluster arrive with their issues; this runs what exists.\n"
      "Scenario: 20 cpu nodes, 8 gpu nodes tainted gpu=true:NoSchedule, a node that joins late,\n"
      "one image that cannot be pulled; PullPolicy gentle: 5 at a time, 2s apart.\n");
  World w;
  for (int i = 0; i < 20; ++i)
    w.PutNode(NodeBuilder("cpu-" + std::to_string(i)).Labels({{"pool", "cpu"}}));
  for (int i = 0; i < 8; ++i) {
    w.PutNode(NodeBuilder("gpu-" + std::to_string(i))
                  .Labels({{"pool", "gpu"}})
                  .Taint("gpu", "true", "NoSchedule"));
  }
  w.PutPolicy(PolicyBuilder("gentle", 5, 2000).Backoff(5000, 60'000, 2, 3));
  w.PutImage(ImageBuilder("base", "registry.example.com/base:1"));
  w.PutImage(ImageBuilder("ml-runtime", "registry.example.com/ml/runtime:2.1")
                 .Policy("gentle")
                 .Selector({{"pool", "gpu"}})
                 .Tolerate("gpu", "Exists", "", "NoSchedule"));
  w.PutImage(ImageBuilder("broken", "registry.example.com/does-not-exist:1").Policy("gentle"));
  w.SetBehaviour([](const v1::Pod& pod) {
    if (pod.cached_image() == "broken") return Pull{Pull::kNotFound, 0};
    return Pull{Pull::kSucceed, pod.cached_image() == "ml-runtime" ? 12'000 : 4'000};
  });
  w.Start();
  int64_t start = w.now();
  bool joined = false;
  for (int tick = 0; tick < 40; ++tick) {
    w.RunFor(10'000);
    if (!joined && w.now() - start >= 60'000) {
      w.PutNode(
          NodeBuilder("gpu-late").Labels({{"pool", "gpu"}}).Taint("gpu", "true", "NoSchedule"));
      std::printf("\n          (node gpu-late joins)\n");
      joined = true;
    }
    if (tick % 3 == 0) PrintTable(w, start);
    bool settled = joined;
    for (const char* name : {"base", "ml-runtime", "broken"}) {
      const std::string& phase = w.Image(name).status().phase();
      settled = settled && (phase == "Ready" || phase == "Degraded");
    }
    if (settled) break;
  }
  PrintTable(w, start);
  const v1::Condition& c = w.Image("broken").status().conditions(0);
  std::printf("\nbroken: %s\n", c.message().c_str());
  std::printf("journal: %zu entries (inputs and decisions), %zu pods created\n", w.journal().size(),
              w.creations().size());
  return 0;
}
