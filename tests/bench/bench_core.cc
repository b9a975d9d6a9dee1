// bench_core: the pure core's speed and size (issue: foundation).
//   fold       entries/s folding a realistic journal (a rollout of 10 CachedImages over 1,000
//              nodes, recorded from the real core in the simulated cluster); baseline: copying
//              the same entries, the least any fold must do.        target >= 2,000,000/s
//   reconcile  one CachedImage at 5,000 nodes with 50 images each; baseline: a bare walk over
//              the 5,000 node records.                               target < 1 ms
//   state      bytes of the serialized State per (CachedImage, node) pair, 20 images x 5,000
//              nodes, all pulled.                                     target <= 100
#include <benchmark/benchmark.h>

#include <map>

#include "core/fold.h"
#include "core/image_ref.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "core/step.h"
#include "tests/support/builders.h"
#include "tests/support/world.h"

namespace drop {
namespace {

using namespace drop::testing;  // NOLINT(build/namespaces)

const std::vector<v1::Entry>& RolloutJournal() {
  static const std::vector<v1::Entry> journal = [] {
    World w;
    for (int i = 0; i < 1000; ++i) {
      NodeBuilder n("node-" + std::to_string(10000 + i));
      n.Labels({{"kubernetes.io/hostname", "node-" + std::to_string(i)},
                {"pool", i % 4 ? "cpu" : "gpu"}});
      for (int k = 0; k < 50; ++k)
        n.Image("registry.example.com/base/layer-" + std::to_string(k) + ":1");
      w.PutNode(n);
    }
    w.PutPolicy(PolicyBuilder("rollout", 50, 0));
    for (int i = 0; i < 10; ++i) {
      w.PutImage(ImageBuilder("app-" + std::to_string(i),
                              "registry.example.com/app-" + std::to_string(i) + ":1.0")
                     .Policy("rollout"));
    }
    int n = 0;
    w.SetBehaviour([&](const v1::Pod&) {
      ++n;
      if (n % 50 == 0) return Pull{Pull::kNotFound, 0};
      return Pull{Pull::kSucceed, 2000 + (n * 7919) % 3000};
    });
    w.Start();
    w.RunFor(4 * 3600 * 1000);
    return w.journal();
  }();
  return journal;
}

void BM_Fold(benchmark::State& st) {
  const auto& journal = RolloutJournal();
  for (auto _ : st) {
    v1::State state = InitialState();
    for (const v1::Entry& e : journal)
      Apply(e, &state);
    benchmark::DoNotOptimize(state);
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * journal.size()));
  std::map<std::string, int> kinds;
  for (const v1::Entry& e : journal) {
    const auto* field = e.GetDescriptor()->FindFieldByNumber(e.kind_case());
    kinds[field == nullptr ? "none" : field->name()]++;
  }
  st.counters["entries"] = static_cast<double>(journal.size());
  for (const auto& [kind, n] : kinds) {
    st.counters["share_" + kind] = static_cast<double>(n) / static_cast<double>(journal.size());
  }
}
BENCHMARK(BM_Fold)->Unit(benchmark::kMillisecond);

void BM_FoldBaselineCopy(benchmark::State& st) {
  const auto& journal = RolloutJournal();
  v1::Entry sink;
  for (auto _ : st) {
    for (const v1::Entry& e : journal) {
      sink.CopyFrom(e);
      benchmark::DoNotOptimize(sink);
    }
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * journal.size()));
}
BENCHMARK(BM_FoldBaselineCopy)->Unit(benchmark::kMillisecond);

// A cluster of `nodes` nodes with 50 listed images each, `images` CachedImages under one policy,
// `pulled_share` of the nodes done for each, and a policy's worth of pods in flight.
v1::State BigState(int nodes, int images, double pulled_share) {
  v1::State state = InitialState();
  uint64_t seq = 0;
  auto apply = [&](v1::Entry e) {
    e.set_seq(++seq);
    e.set_time_ms(World::kStart);
    Apply(e, &state);
  };
  apply(Started());
  v1::PullPolicy policy = PolicyBuilder("rollout", 200, 0);
  apply(Watch(v1::ADDED, policy));
  for (int i = 0; i < nodes; ++i) {
    NodeBuilder n("node-" + std::to_string(10000 + i));
    n.Labels({{"kubernetes.io/hostname", "node-" + std::to_string(10000 + i)},
              {"node.kubernetes.io/instance-type", "m5.xlarge"},
              {"pool", "cpu"},
              {"topology.kubernetes.io/zone", "zone-" + std::to_string(i % 3)}});
    for (int k = 0; k < 50; ++k)
      n.Image("registry.example.com/base/layer-" + std::to_string(k) + ":1");
    apply(Watch(v1::ADDED, static_cast<v1::Node>(n)));
  }
  for (int m = 0; m < images; ++m) {
    std::string name = "app-" + std::to_string(m);
    apply(Watch(
        v1::ADDED,
        static_cast<v1::CachedImage>(
            ImageBuilder(name, "registry.example.com/team/" + name + ":1.0").Policy("rollout"))));
    for (int i = 0; i < nodes * pulled_share; ++i) {
      v1::Entry o;
      v1::PullOutcome* out = o.mutable_outcome();
      out->set_cached_image(name);
      out->set_node("node-" + std::to_string(10000 + i));
      out->set_outcome(v1::PULL_SUCCEEDED);
      apply(o);
    }
  }
  // In flight: the policy's 200 pods, spread over the images.
  for (int i = 0; i < 200; ++i) {
    v1::Entry c;
    v1::CreatePod* create = c.mutable_action()->mutable_create_pod();
    create->set_policy("rollout");
    std::string image = "app-" + std::to_string(i % images);
    std::string node = "node-" + std::to_string(10000 + static_cast<int>(nodes * pulled_share) + i);
    create->mutable_pod()->set_name("drop-" + image + "-" + node);
    create->mutable_pod()->set_node(node);
    create->mutable_pod()->set_cached_image(image);
    create->mutable_pod()->set_image("registry.example.com/team/" + image + ":1.0");
    apply(c);
  }
  for (v1::ObjectKind k :
       {v1::KIND_NODE, v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY, v1::KIND_POD}) {
    state.add_synced(k);
  }
  // Each CachedImage's status is already written: the common case, a reconcile that finds
  // nothing to change, compares a full status against it.
  for (int m = 0; m < state.images_size(); ++m) {
    v1::CachedImageStatus status =
        DesiredStatus(state, ImageView(state, state.images(m)), World::kStart);
    *state.mutable_images(m)->mutable_status_issued() = status;
  }
  return state;
}

const v1::State& State5000() {
  static const v1::State state = BigState(5000, 20, 0.5);
  return state;
}

void BM_ReconcileImage5000Nodes(benchmark::State& st) {
  const v1::State& state = State5000();
  int64_t now = World::kStart + 1000;
  for (auto _ : st) {
    auto a = AccountPulls(state, "app-7", now);
    auto r = ReconcileImage(state, "app-7", now);
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ReconcileImage5000Nodes)->Unit(benchmark::kMicrosecond);

void BM_PacePolicy5000Nodes20Images(benchmark::State& st) {
  v1::State state = State5000();
  state.mutable_policies(0)->mutable_object()->mutable_spec()->set_max_concurrent_nodes(201);
  int64_t now = World::kStart + 1000;
  for (auto _ : st) {
    auto d = PacePolicy(state, "rollout", now);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_PacePolicy5000Nodes20Images)->Unit(benchmark::kMicrosecond);

void BM_ReconcileBaselineNodeWalk(benchmark::State& st) {
  const v1::State& state = State5000();
  for (auto _ : st) {
    size_t sum = 0;
    for (const v1::NodeRecord& n : state.nodes())
      sum += n.node().name().size();
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_ReconcileBaselineNodeWalk)->Unit(benchmark::kMicrosecond);

void BM_StateBytesPerPair(benchmark::State& st) {
  const int nodes = 5000, images = 20;
  v1::State full = BigState(nodes, images, 1.0);
  v1::State bare = BigState(nodes, 1, 0.0);
  size_t full_bytes = 0, bare_bytes = 0;
  for (auto _ : st) {
    full_bytes = full.ByteSizeLong();
    bare_bytes = bare.ByteSizeLong();
  }
  double pairs = static_cast<double>(nodes) * images;
  st.counters["bytes_per_pair"] = static_cast<double>(full_bytes) / pairs;
  st.counters["marginal_bytes_per_pair"] = static_cast<double>(full_bytes - bare_bytes) / pairs;
  st.counters["state_MB"] = static_cast<double>(full_bytes) / 1e6;
}
BENCHMARK(BM_StateBytesPerPair)->Iterations(1);

}  // namespace
}  // namespace drop

BENCHMARK_MAIN();
