// Journals for drop-replay's tests: scenarios run by the real core in the simulated cluster
// (tests/support/world.h), written into RocksDB journals exactly as the operator writes them
// (journal form, batches that end with an input's last decision, snapshots, retention).
#pragma once

#include <string>
#include <vector>

#include "core/fold.h"
#include "core/step.h"
#include "journal/journal.h"
#include "tests/support/builders.h"
#include "tests/support/world.h"

namespace drop::testing {

struct WriteOptions {
  size_t inputs_per_batch = 16;
  uint64_t snapshot_every_entries = 0;  // 0: none
  int64_t retention_age_ms = 0;
};

// Writes `entries` (a World's journal) to a new journal in `dir`.
inline Status WriteJournal(const std::vector<v1::Entry>& entries, const std::string& dir,
                           const WriteOptions& o = {}) {
  journal::JournalOptions jo;
  jo.dir = dir;
  jo.sync = false;
  jo.verify_on_open = false;
  jo.snapshot_every_entries = o.snapshot_every_entries > 0 ? o.snapshot_every_entries : ~0ull;
  jo.snapshot_every_ms = 0;
  jo.retention_age_ms = o.retention_age_ms;
  Result<std::unique_ptr<journal::Journal>> j = journal::Journal::Open(jo);
  if (!j.ok()) return j.status();
  v1::State state = InitialState();
  size_t inputs = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (Status s = (*j)->Append(entries[i]); !s.ok()) return s;
    Apply(entries[i], &state);
    bool group_ends = i + 1 == entries.size() || !IsDecision(entries[i + 1]);
    if (group_ends && ++inputs % o.inputs_per_batch == 0) {
      if (Status s = (*j)->Commit(state); !s.ok()) return s;
    }
  }
  return (*j)->Commit(state);
}

// A scenario like the demo's (tests/demo/scenario.yaml), in the simulated cluster: 20 cpu nodes,
// 8 gpu nodes tainted gpu=true:NoSchedule, a node that joins late, an image that cannot be
// pulled; PullPolicy gentle: 5 at a time, 2 s apart. Runs until it settles.
inline std::vector<v1::Entry> DemoJournal() {
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
  w.RunFor(60'000);
  w.PutNode(NodeBuilder("gpu-late").Labels({{"pool", "gpu"}}).Taint("gpu", "true", "NoSchedule"));
  w.RunFor(340'000);
  return w.journal();
}

}  // namespace drop::testing
