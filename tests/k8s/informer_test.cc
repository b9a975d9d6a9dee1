// Informers against the real API server with its faults on: thousands of changes to CachedImages,
// PullPolicies and drop's pods while the API server ends watches every few seconds, etcd
// compaction turns old resourceVersions into 410 Gone, API Priority and Fairness answers 429, the
// fault proxy delays and resets connections, and the API server is restarted twice. Judged by
// folding what the informers delivered and comparing it with a fresh list read by kubectl: no
// event lost, none delivered twice, resource versions never going backwards.
#include "k8s/informer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "k8s/json_util.h"
#include "k8s/projection.h"
#include "k8s/writes.h"
#include "tests/k8s/client_helpers.h"
#include "tests/k8s/test_cluster.h"

namespace drop::k8s {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using testing::TestClient;
using testing::TestCluster;

constexpr const char* kPriorityLevel = R"(
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: drop-test-reject}
spec: {type: Limited, limited: {nominalConcurrencyShares: 0, lendablePercent: 0, limitResponse: {type: Reject}}}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: drop-test-reject}
spec:
  priorityLevelConfiguration: {name: drop-test-reject}
  matchingPrecedence: 100
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: ServiceAccount, serviceAccount: {name: drop-controller-manager, namespace: drop-system}}]
    resourceRules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true}]
)";

uint64_t Rv(const std::string& s) {
  return s.empty() ? 0 : std::stoull(s);
}

std::string NameOfEvent(const v1::WatchEvent& w) {
  switch (w.object_case()) {
    case v1::WatchEvent::kCachedImage:
      return w.cached_image().name();
    case v1::WatchEvent::kPullPolicy:
      return w.pull_policy().name();
    case v1::WatchEvent::kDiscoveryPolicy:
      return w.discovery_policy().name();
    case v1::WatchEvent::kNode:
      return w.node().name();
    case v1::WatchEvent::kPod:
      return w.pod().name();
    default:
      return "";
  }
}

std::string Bytes(const v1::WatchEvent& w) {
  v1::WatchEvent copy = w;
  copy.clear_type();
  return copy.SerializeAsString();
}

// What one informer delivered, folded as the core folds it, checking the stream's rules on the way.
struct Folded {
  struct Object {
    std::string rv;
    std::string bytes;
  };
  std::map<std::string, Object> objects;
  std::vector<std::string> violations;
  uint64_t last_rv = 0;
  bool in_relist = false;
  std::map<std::string, Object> relisted;
  int relists = 0;
  int gone_relists = 0;
  uint64_t events = 0;

  void Apply(const v1::Entry& e) {
    if (e.has_relist_begin()) {
      if (in_relist) violations.push_back("RelistBegin inside a relist");
      in_relist = true;
      relisted.clear();
      ++relists;
      if (e.relist_begin().reason().find("410") != std::string::npos) ++gone_relists;
      return;
    }
    if (e.has_relist_end()) {
      if (!in_relist) violations.push_back("RelistEnd without RelistBegin");
      uint64_t rv = Rv(e.relist_end().resource_version());
      if (rv < last_rv) {
        violations.push_back("relist at " + std::to_string(rv) + " went back from " +
                             std::to_string(last_rv));
      }
      last_rv = rv;
      objects = std::move(relisted);
      relisted.clear();
      in_relist = false;
      return;
    }
    const v1::WatchEvent& w = e.watch();
    const std::string name = NameOfEvent(w);
    if (w.type() == v1::LISTED) {
      if (!in_relist) violations.push_back("LISTED outside a relist: " + name);
      relisted[name] = Object{w.resource_version(), Bytes(w)};
      return;
    }
    ++events;
    if (in_relist) violations.push_back("a watch event inside a relist: " + name);
    uint64_t rv = Rv(w.resource_version());
    if (rv <= last_rv) {
      violations.push_back("event for " + name + " at " + std::to_string(rv) + " not after " +
                           std::to_string(last_rv) + " (delivered twice?)");
    }
    last_rv = rv;
    bool present = objects.count(name) > 0;
    if (w.type() == v1::ADDED && present) violations.push_back("ADDED again: " + name);
    if (w.type() != v1::ADDED && !present) {
      violations.push_back(std::string(w.type() == v1::DELETED ? "DELETED" : "MODIFIED") +
                           " of an object never seen: " + name + " (an event was lost)");
    }
    if (w.type() == v1::DELETED) {
      objects.erase(name);
    } else {
      objects[name] = Object{w.resource_version(), Bytes(w)};
    }
  }
};

// The server's state, read by kubectl (not drop's client) and projected.
std::map<std::string, Folded::Object> FreshList(const TestCluster& c, v1::ObjectKind kind,
                                                const std::vector<std::string>& args,
                                                std::string* error) {
  std::vector<std::string> argv{"get"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"-o", "json"});
  testing::ProcessResult r = c.Kubectl(argv);
  std::map<std::string, Folded::Object> out;
  if (r.exit_code != 0) {
    *error = r.Describe();
    return out;
  }
  json::value list = json::parse(r.out);
  for (const json::value& item : *GetArray(&list.as_object(), "items")) {
    v1::WatchEvent w;
    ProjectInto(kind, item.as_object(), &w);
    w.set_resource_version(std::string(ResourceVersionOf(item.as_object())));
    out[NameOfEvent(w)] = Folded::Object{w.resource_version(), Bytes(w)};
  }
  return out;
}

// One writer: `ops` random changes to its own objects (so writers do not fight each other).
asio::awaitable<void> Write(std::shared_ptr<Client> client, int worker, int ops, uint64_t seed,
                            std::atomic<int>* done, std::atomic<int>* failed) {
  std::mt19937_64 random(seed);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<uint64_t>(n)); };
  for (int i = 0; i < ops; ++i) {
    const std::string image = "ci-" + std::to_string(worker) + "-" + std::to_string(pick(8));
    const std::string pod = "p-" + std::to_string(worker) + "-" + std::to_string(pick(4));
    int what = pick(100);
    bool ok = true;
    if (what < 25) {
      json::object o{{"metadata", json::object{{"name", image}}},
                     {"spec", json::object{{"image", "registry.example.com/app:" +
                                                         std::to_string(pick(1000))}}}};
      ApiResult<Created> r = co_await CreateObject(*client, kCachedImages, "", std::move(o), true);
      ok = r.ok();
    } else if (what < 45) {
      std::string patch = R"({"spec":{"image":"registry.example.com/app:)" +
                          std::to_string(pick(1000)) + R"("},"metadata":{"labels":{"round":")" +
                          std::to_string(i) + R"("}}})";
      ApiResult<json::object> r =
          co_await client->Patch(kCachedImages, "", image, "", PatchType::kMerge, patch);
      ok = r.ok() || r.status().IsNotFound();
    } else if (what < 65) {
      std::string patch = R"({"status":{"phase":"Pulling","nodesReady":)" +
                          std::to_string(pick(50)) + R"(,"cachedNodes":["node-)" +
                          std::to_string(pick(9)) + R"("]}})";
      ApiResult<json::object> r =
          co_await client->Patch(kCachedImages, "", image, "status", PatchType::kMerge, patch);
      ok = r.ok() || r.status().IsNotFound();
    } else if (what < 75) {
      ApiResult<json::object> r = co_await client->Delete(kCachedImages, "", image, {});
      ok = r.ok() || r.status().IsNotFound();
    } else if (what < 83) {
      ApiResult<Created> r = co_await CreateObject(
          *client, kPods, "drop-system",
          testing::PodJson("drop-system", pod, pick(2) == 0 ? "node-0" : "nowhere"), true);
      ok = r.ok();
    } else if (what < 90) {
      // Out of the informer's selection and back: DELETED, then ADDED.
      std::string patch = R"({"metadata":{"labels":{"app.kubernetes.io/managed-by":")" +
                          std::string(pick(2) == 0 ? "drop" : "someone-else") + R"("}}})";
      ApiResult<json::object> r =
          co_await client->Patch(kPods, "drop-system", pod, "", PatchType::kMerge, patch);
      ok = r.ok() || r.status().IsNotFound();
    } else if (what < 95) {
      ApiResult<json::object> r = co_await client->Delete(kPods, "drop-system", pod, {});
      ok = r.ok() || r.status().IsNotFound();
    } else {
      const std::string policy = "pp-" + std::to_string(worker);
      json::object o{{"metadata", json::object{{"name", policy}}},
                     {"spec", json::object{{"maxConcurrentNodes", pick(9) + 1},
                                           {"pullTimeout", std::to_string(pick(30) + 1) + "m"}}}};
      ApiResult<Created> r = co_await CreateObject(*client, kPullPolicies, "", std::move(o), true);
      if (r.ok() && r->already_existed) {
        ApiResult<json::object> d = co_await client->Delete(kPullPolicies, "", policy, {});
        ok = d.ok() || d.status().IsNotFound();
      } else {
        ok = r.ok();
      }
    }
    if (!ok) ++*failed;
    ++*done;
  }
}

TEST(InformerUnderFaults, FinalViewEqualsTheServerAndNoEventIsLostOrRepeated) {
  Result<std::unique_ptr<TestCluster>> started = TestCluster::Start(
      {"--nodes", "2", "--min-request-timeout", "2s", "--etcd-compaction-interval", "3s",
       "--watch-cache=false", "--max-requests-inflight", "5", "--max-mutating-requests-inflight",
       "5", "--fault-proxy", "--proxy-latency", "2ms", "--proxy-reset-probability", "0.002"});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  TestCluster& cluster = **started;
  ASSERT_TRUE(cluster.InstallCrds().ok());
  ASSERT_TRUE(cluster.Namespace("drop-system").ok());
  // drop's identity is a ServiceAccount (system:masters is exempt from API Priority and
  // Fairness) whose requests API Priority and Fairness rejects rather than queues.
  Result<std::string> token =
      cluster.ServiceAccountToken("drop-system", "drop-controller-manager", "cluster-admin");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  testing::ProcessResult apf = cluster.Kubectl({"apply", "-f", "-"}, kPriorityLevel);
  ASSERT_EQ(apf.exit_code, 0) << apf.Describe();

  // What the informers delivered, and the writers' progress (declared first: the I/O threads
  // below use them until they are stopped).
  std::mutex mu;
  std::map<v1::ObjectKind, std::vector<v1::Entry>> delivered;
  std::atomic<int> done{0}, failed{0};

  // The informers, through the fault proxy.
  ClientOptions informer_options;
  informer_options.identity = "informers";
  TestClient informers(cluster.TokenConfig(*token, /*through_proxy=*/true), informer_options);
  std::vector<std::unique_ptr<Informer>> running;
  for (InformerOptions o : OperatorInformers("drop-system")) {
    o.min_watch_timeout = std::chrono::seconds(0);  // the server ends watches (2-4 s here)
    o.page_size = 7;                                // several pages per list
    v1::ObjectKind kind = o.kind;
    running.push_back(std::make_unique<Informer>(informers.client, o, [&, kind](v1::Entry e) {
      std::lock_guard lock(mu);
      delivered[kind].push_back(std::move(e));
    }));
    running.back()->Start();
  }

  // The writers, through the proxy too, with no client-side rate limit.
  ClientOptions writer_options;
  writer_options.identity = "writers";
  writer_options.qps = 0;
  TestClient writers(cluster.TokenConfig(*token, true), writer_options);
  constexpr int kWorkers = 12;
  constexpr int kOpsPerWorker = 220;
  for (int w = 0; w < kWorkers; ++w) {
    asio::co_spawn(writers.io.executor(),
                   Write(writers.client, w, kOpsPerWorker, 1000 + w, &done, &failed),
                   asio::detached);
  }
  const int total = kWorkers * kOpsPerWorker;
  auto wait_for = [&](int n) {
    for (int i = 0; i < 3000 && done.load() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  // Two API server restarts while the changes go on.
  for (int round = 1; round <= 2; ++round) {
    wait_for(total * round / 3);
    auto t0 = std::chrono::steady_clock::now();
    testing::ProcessResult r = cluster.Testcluster("restart", {"apiserver"});
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    std::cerr << "[test] apiserver restarted after " << done.load() << " changes in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - t0)
                     .count()
              << " ms\n";
  }
  wait_for(total);
  ASSERT_EQ(done.load(), total) << "the writers did not finish";
  std::cerr << "[test] " << total << " changes, " << failed.load() << " refused or failed\n";

  // Once the writes stop, each informer's view must come to equal a fresh list.
  struct Kind {
    v1::ObjectKind kind;
    std::vector<std::string> args;
  };
  const std::vector<Kind> kinds = {
      {v1::KIND_CACHED_IMAGE, {"cachedimages"}},
      {v1::KIND_PULL_POLICY, {"pullpolicies"}},
      {v1::KIND_DISCOVERY_POLICY, {"discoverypolicies"}},
      {v1::KIND_NODE, {"nodes"}},
      {v1::KIND_POD, {"pods", "-n", "drop-system", "-l", "app.kubernetes.io/managed-by=drop"}}};
  std::map<v1::ObjectKind, Folded> folded;
  std::string mismatch = "not compared yet";
  for (int attempt = 0; attempt < 120 && !mismatch.empty(); ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::seconds(1));
    mismatch.clear();
    for (const Kind& k : kinds) {
      std::string error;
      std::map<std::string, Folded::Object> fresh = FreshList(cluster, k.kind, k.args, &error);
      if (!error.empty()) {
        mismatch = error;
        break;
      }
      Folded f;
      {
        std::lock_guard lock(mu);
        for (const v1::Entry& e : delivered[k.kind])
          f.Apply(e);
      }
      bool same = f.objects.size() == fresh.size();
      for (const auto& [name, o] : fresh) {
        auto it = f.objects.find(name);
        same =
            same && it != f.objects.end() && it->second.rv == o.rv && it->second.bytes == o.bytes;
      }
      if (!same) {
        mismatch += k.args[0] + ": informer has " + std::to_string(f.objects.size()) +
                    " objects, the server " + std::to_string(fresh.size()) + "; ";
      }
      folded[k.kind] = std::move(f);
    }
  }
  EXPECT_EQ(mismatch, "") << "the informers' view never matched the server's";

  uint64_t gone = 0, broken = 0, watches = 0;
  for (auto& informer : running) {
    InformerStats s = informer->stats();
    gone += s.gone;
    broken += s.broken;
    watches += s.watches;
    informer->Stop();
  }
  for (auto& informer : running)
    EXPECT_TRUE(informer->WaitStopped(std::chrono::seconds(60)));
  for (const auto& [kind, f] : folded) {
    EXPECT_TRUE(f.violations.empty()) << ResourceFor(kind)->plural << ": " << f.violations.size()
                                      << " violations, first: " << f.violations.front();
    std::cerr << "[test] " << ResourceFor(kind)->plural << ": " << f.events << " events, "
              << f.relists << " lists (" << f.gone_relists << " after 410), " << f.objects.size()
              << " objects at the end\n";
  }
  ClientStats a = informers.client->stats();
  ClientStats b = writers.client->stats();
  std::cerr << "[test] informers: " << watches << " watches, " << broken << " broken, " << gone
            << " relists after 410; client: " << a.requests << " requests, " << a.too_many_requests
            << " 429s, " << a.connection_errors << " connection errors, " << a.retries
            << " retries; writers: " << b.requests << " requests, " << b.too_many_requests
            << " 429s, " << b.connection_errors << " connection errors, " << b.retries
            << " retries\n";
  // The faults did happen.
  EXPECT_GT(total - failed.load(), 2000);  // thousands of changes went through
  // Fewer for CachedImages, and fewer still the more relists after 410 there were (286 with 13
  // relists, 1,083 with none): what the watch did not deliver the relist carried.
  EXPECT_GT(folded[v1::KIND_CACHED_IMAGE].events, 100u);
  EXPECT_GT(gone, 0u) << "no 410 Gone: compaction did not reach the informers";
  EXPECT_GT(watches, 20u) << "the API server did not end watches";
  EXPECT_GT(a.too_many_requests + b.too_many_requests, 0u)
      << "no 429 from API Priority and Fairness";
  EXPECT_GT(a.connection_errors + b.connection_errors + broken, 0u) << "no connection faults";
}

}  // namespace
}  // namespace drop::k8s
