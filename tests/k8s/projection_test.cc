// Projections of API objects (as JSON) into the core's types: only what the core reads, sorted,
// times in milliseconds, and spec errors that name the object, the field and the fix.
#include "k8s/projection.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "core/duration.h"
#include "core/hash.h"
#include "core/image_ref.h"
#include "core/state.h"
#include "k8s/json_util.h"
#include "k8s/watch_stream.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;

// An object as the API sends it. The projections below take it through overloads of their own
// names that also check ProjectedFields: projecting only the members the informers build must
// give what projecting the whole object gives.
struct Object {
  json::object whole;
  operator const json::object&() const { return whole; }  // NOLINT(google-explicit-constructor)
};

Object Parse(const char* text) {
  return {json::parse(text).as_object()};
}

// `project` of the whole object, after checking that it reads nothing outside its selection.
template <typename Message>
Message Checked(v1::ObjectKind kind, const Object& o, Message (*project)(const json::object&)) {
  Message whole = project(o.whole);
  json::error_code ec;
  json::value selected =
      SelectiveParser::Parse(json::serialize(o.whole), &ProjectedFields(kind), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(project(selected.as_object()).DebugString(), whole.DebugString())
      << "the projection read a member outside ProjectedFields(" << v1::ObjectKind_Name(kind)
      << "); selected: " << json::serialize(selected);
  return whole;
}

v1::Node ProjectNode(const Object& o) {
  return Checked(v1::KIND_NODE, o, &k8s::ProjectNode);
}
v1::Pod ProjectPod(const Object& o) {
  return Checked(v1::KIND_POD, o, &k8s::ProjectPod);
}
v1::CachedImage ProjectCachedImage(const Object& o) {
  return Checked(v1::KIND_CACHED_IMAGE, o, &k8s::ProjectCachedImage);
}
v1::PullPolicy ProjectPullPolicy(const Object& o) {
  return Checked(v1::KIND_PULL_POLICY, o, &k8s::ProjectPullPolicy);
}
v1::DiscoveryPolicy ProjectDiscoveryPolicy(const Object& o) {
  return Checked(v1::KIND_DISCOVERY_POLICY, o, &k8s::ProjectDiscoveryPolicy);
}

int64_t Ms(const char* rfc3339) {
  return *ParseTime(rfc3339);
}

TEST(Projection, NodeKeepsLabelsTaintsReadinessAndImageHashes) {
  v1::Node n = ProjectNode(Parse(R"({
    "metadata": {"name": "gpu-1", "uid": "u1", "resourceVersion": "9",
                 "labels": {"pool": "gpu", "kubernetes.io/hostname": "gpu-1", "a": "b"},
                 "annotations": {"big": "ignored"}},
    "spec": {"unschedulable": true,
             "taints": [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]},
    "status": {
      "conditions": [{"type": "MemoryPressure", "status": "False"},
                     {"type": "Ready", "status": "True", "reason": "KubeletReady"}],
      "images": [
        {"names": ["registry.example.com/base@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   "registry.example.com/base:1"], "sizeBytes": 50000000},
        {"names": ["docker.io/library/nginx:1.25"], "sizeBytes": 1},
        {"names": ["nginx:1.25", "not a reference!"], "sizeBytes": 1}]}})"));
  EXPECT_EQ(n.name(), "gpu-1");
  EXPECT_EQ(n.uid(), "u1");
  ASSERT_EQ(n.labels_size(), 3);
  EXPECT_EQ(n.labels(0).key(), "a");
  EXPECT_EQ(n.labels(1).key(), "kubernetes.io/hostname");
  EXPECT_EQ(n.labels(2).key(), "pool");
  EXPECT_EQ(n.labels(2).value(), "gpu");
  ASSERT_EQ(n.taints_size(), 1);
  EXPECT_EQ(n.taints(0).effect(), "NoSchedule");
  EXPECT_TRUE(n.ready());
  EXPECT_TRUE(n.unschedulable());
  // Every name that parses, hashed, sorted and unique ("nginx:1.25" is docker.io/library/...).
  std::vector<uint64_t> want = {
      ImageMatchHash(
          "registry.example.com/"
          "base@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
      ImageMatchHash("registry.example.com/base:1"), ImageMatchHash("nginx:1.25")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(std::vector<uint64_t>(n.image_hashes().begin(), n.image_hashes().end()), want);
}

TEST(Projection, NodeWithoutReadyConditionIsNotReady) {
  v1::Node n = ProjectNode(Parse(R"({"metadata": {"name": "n"},
    "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})"));
  EXPECT_FALSE(n.ready());
  EXPECT_FALSE(n.unschedulable());
  EXPECT_EQ(n.image_hashes_size(), 0);
}

constexpr const char* kPendingPod = R"({
  "metadata": {"name": "drop-web-0123456789", "uid": "p1", "namespace": "drop-system",
               "creationTimestamp": "2026-11-25T10:00:00Z",
               "labels": {"app.kubernetes.io/managed-by": "drop", "drop.io/cachedimage": "web",
                          "drop.io/node": "gpu-1"},
               "annotations": {"drop.io/generation": "3"}},
  "spec": {
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
      "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                              "values": ["gpu-1"]}]}]}}},
    "initContainers": [{"name": "copy-noop", "image": "drop:1"}],
    "containers": [{"name": "image", "image": "registry.example.com/app:1.4.2"}]},
  "status": {
    "phase": "Pending", "startTime": "2026-11-25T10:00:01Z",
    "initContainerStatuses": [{"name": "copy-noop", "state": {"terminated": {"exitCode": 0,
        "reason": "Completed", "finishedAt": "2026-11-25T10:00:02Z"}}}],
    "containerStatuses": [{"name": "image", "state": {"waiting": {"reason": "ImagePullBackOff",
        "message": "Back-off pulling image \"registry.example.com/app:1.4.2\""}}}]}})";

TEST(Projection, PodWaitingOnItsImage) {
  v1::Pod p = ProjectPod(Parse(kPendingPod));
  EXPECT_EQ(p.name(), "drop-web-0123456789");
  EXPECT_EQ(p.uid(), "p1");
  EXPECT_EQ(p.node(), "gpu-1");  // not bound yet: from the node affinity
  EXPECT_EQ(p.cached_image(), "web");
  EXPECT_EQ(p.image(), "registry.example.com/app:1.4.2");
  EXPECT_EQ(p.generation(), 3);
  EXPECT_EQ(p.phase(), v1::POD_PENDING);
  EXPECT_EQ(p.waiting_reason(), "ImagePullBackOff");
  EXPECT_EQ(p.waiting_message(), "Back-off pulling image \"registry.example.com/app:1.4.2\"");
  EXPECT_EQ(p.terminated_reason(), "");  // the init container ended well: nothing to report
  EXPECT_EQ(p.exit_code(), 0);
  EXPECT_EQ(p.creation_time_ms(), Ms("2026-11-25T10:00:00Z"));
  EXPECT_EQ(p.start_time_ms(), Ms("2026-11-25T10:00:01Z"));
  EXPECT_EQ(p.finish_time_ms(), 0);
  EXPECT_FALSE(p.deleting());
}

TEST(Projection, PodThatFailed) {
  v1::Pod p = ProjectPod(Parse(R"({
    "metadata": {"name": "x", "uid": "p2", "deletionTimestamp": "2026-11-25T10:05:00Z"},
    "spec": {"nodeName": "gpu-2", "containers": [{"name": "first", "image": "a:1"},
                                                 {"name": "second", "image": "b:1"}]},
    "status": {"phase": "Failed",
      "initContainerStatuses": [{"name": "init", "state": {"waiting": {"reason": "PodInitializing"}}}],
      "containerStatuses": [
        {"name": "first", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "second", "state": {"terminated": {"exitCode": 137, "reason": "Error",
          "message": "killed", "finishedAt": "2026-11-25T10:04:00Z"}}}]}})"));
  EXPECT_EQ(p.node(), "gpu-2");
  EXPECT_EQ(p.image(), "a:1");  // no container named "image": the first
  EXPECT_EQ(p.phase(), v1::POD_FAILED);
  EXPECT_EQ(p.waiting_reason(), "PodInitializing");  // init containers first
  EXPECT_EQ(p.terminated_reason(), "Error");
  EXPECT_EQ(p.terminated_message(), "killed");
  EXPECT_EQ(p.exit_code(), 137);
  EXPECT_EQ(p.finish_time_ms(), Ms("2026-11-25T10:04:00Z"));
  EXPECT_TRUE(p.deleting());
  EXPECT_EQ(p.cached_image(), "");
  EXPECT_EQ(p.generation(), 0);
}

TEST(Projection, PodThatSucceededReportsItsMainContainer) {
  v1::Pod p = ProjectPod(Parse(R"({"metadata": {"name": "x"},
    "spec": {"nodeName": "n", "containers": [{"name": "image", "image": "a:1"}]},
    "status": {"phase": "Succeeded", "containerStatuses": [{"name": "image", "state":
      {"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": "2026-11-25T10:04:00Z"}}}]}})"));
  EXPECT_EQ(p.phase(), v1::POD_SUCCEEDED);
  EXPECT_EQ(p.terminated_reason(), "Completed");
  EXPECT_EQ(p.finish_time_ms(), Ms("2026-11-25T10:04:00Z"));
}

TEST(Projection, CachedImageWithoutItsNodeLists) {
  v1::CachedImage c = ProjectCachedImage(Parse(R"({
    "metadata": {"name": "web", "uid": "c1", "generation": 4, "resourceVersion": "77",
                 "labels": {"drop.io/discovery-policy": "cluster"},
                 "deletionTimestamp": "2026-11-25T10:05:00Z"},
    "spec": {"image": "registry.example.com/app:1.4.2", "nodeSelector": {"pool": "gpu", "b": "1"},
             "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
                             {"key": "x", "value": "y", "tolerationSeconds": 30}],
             "imagePullSecrets": [{"name": "regcred"}], "pullPolicyRef": {"name": "gentle"}},
    "status": {"observedGeneration": 3, "phase": "Pulling", "nodesTargeted": 40, "nodesReady": 38,
               "cachedNodes": ["a", "b"], "failedNodes": [{"node": "c", "reason": "ErrImagePull"}],
               "consecutiveFailures": 2, "nextPullTime": "2026-11-25T10:06:00Z",
               "conditions": [{"type": "Ready", "status": "False", "reason": "Pulling",
                               "message": "38/40", "lastTransitionTime": "2026-11-25T10:00:00Z",
                               "observedGeneration": 3}]}})"));
  EXPECT_EQ(c.name(), "web");
  EXPECT_EQ(c.uid(), "c1");
  EXPECT_EQ(c.generation(), 4);
  EXPECT_EQ(c.resource_version(), "77");
  EXPECT_TRUE(c.deleting());
  EXPECT_EQ(c.discovery_policy(), "cluster");
  EXPECT_EQ(c.spec().image(), "registry.example.com/app:1.4.2");
  ASSERT_EQ(c.spec().node_selector_size(), 2);
  EXPECT_EQ(c.spec().node_selector(0).key(), "b");
  ASSERT_EQ(c.spec().tolerations_size(), 2);
  EXPECT_EQ(c.spec().tolerations(0).operator_(), "Exists");
  EXPECT_FALSE(c.spec().tolerations(0).has_toleration_seconds());
  EXPECT_TRUE(c.spec().tolerations(1).has_toleration_seconds());
  EXPECT_EQ(c.spec().tolerations(1).toleration_seconds(), 30);
  ASSERT_EQ(c.spec().image_pull_secrets_size(), 1);
  EXPECT_EQ(c.spec().image_pull_secrets(0), "regcred");
  EXPECT_EQ(c.spec().pull_policy_ref(), "gentle");
  const v1::CachedImageStatus& s = c.status();
  EXPECT_EQ(s.observed_generation(), 3);
  EXPECT_EQ(s.phase(), "Pulling");
  EXPECT_EQ(s.nodes_targeted(), 40);
  EXPECT_EQ(s.nodes_ready(), 38);
  EXPECT_EQ(s.cached_nodes_size(), 0);
  EXPECT_EQ(s.failed_nodes_size(), 0);
  EXPECT_EQ(s.cached_nodes_digest(),
            Fnv1a64("\n", Fnv1a64("b", Fnv1a64("\n", Fnv1a64("a", Fnv1a64(""))))));
  EXPECT_EQ(s.consecutive_failures(), 2);
  EXPECT_EQ(s.next_pull_time_ms(), Ms("2026-11-25T10:06:00Z"));
  ASSERT_EQ(s.conditions_size(), 1);
  EXPECT_EQ(s.conditions(0).reason(), "Pulling");
  EXPECT_EQ(s.conditions(0).last_transition_time_ms(), Ms("2026-11-25T10:00:00Z"));
  EXPECT_EQ(s.conditions(0).observed_generation(), 3);
}

TEST(Projection, CachedImageWithoutStatus) {
  v1::CachedImage c =
      ProjectCachedImage(Parse(R"({"metadata": {"name": "new"}, "spec": {"image": "a:1"}})"));
  EXPECT_FALSE(c.has_status());
  EXPECT_FALSE(c.deleting());
  EXPECT_EQ(c.spec().pull_policy_ref(), "");
}

TEST(Projection, PullPolicyAbsentFieldsTakeTheDefaults) {
  v1::PullPolicy p =
      ProjectPullPolicy(Parse(R"({"metadata": {"name": "gentle", "uid": "u", "generation": 2},
    "spec": {"maxConcurrentNodes": 2, "pullTimeout": "1h30m", "backoff": {"factor": 1.5}}})"));
  EXPECT_EQ(p.spec_error(), "");
  v1::PullPolicySpec want = DefaultPolicySpec();
  want.set_max_concurrent_nodes(2);
  want.set_pull_timeout_ms(90 * kMinute);
  want.mutable_backoff()->set_factor(1.5);
  EXPECT_EQ(p.spec().SerializeAsString(), want.SerializeAsString()) << p.spec().DebugString();
  EXPECT_EQ(p.generation(), 2);
  v1::PullPolicy empty = ProjectPullPolicy(Parse(R"({"metadata": {"name": "e"}})"));
  EXPECT_EQ(empty.spec().SerializeAsString(), DefaultPolicySpec().SerializeAsString());
}

TEST(Projection, PullPolicyWithAnUnreadableDurationSaysWhichAndHowToFix) {
  v1::PullPolicy p = ProjectPullPolicy(Parse(R"({"metadata": {"name": "gentle"},
    "spec": {"pullTimeout": "ten", "minDelayBetweenPulls": "5s"}})"));
  EXPECT_EQ(p.spec_error(),
            "PullPolicy gentle: spec.pullTimeout: invalid duration \"ten\": expected a number (use "
            "Go's form, a number and a unit of ns, us, ms, s, m or h, e.g. \"90s\", \"10m\", "
            "\"1h30m\"); fix the field or remove it");
  EXPECT_EQ(p.spec().min_delay_between_pulls_ms(), 5 * kSecond);  // the rest is still read
  EXPECT_EQ(p.spec().pull_timeout_ms(), DefaultPolicySpec().pull_timeout_ms());

  v1::PullPolicy n = ProjectPullPolicy(Parse(R"({"metadata": {"name": "n"},
    "spec": {"maxConcurrentNodes": "five", "backoff": {"maxDelay": 600}}})"));
  EXPECT_EQ(n.spec_error(),
            "PullPolicy n: spec.maxConcurrentNodes: expected a whole number, not \"five\"; fix the "
            "field or remove it");

  // The API server lets 99999999999 through an int32 field: not a limit of 1215752191.
  for (const char* big : {"99999999999", "2147483648", "18446744073709551615"}) {
    v1::PullPolicy b = ProjectPullPolicy(Parse(
        (std::string(R"({"metadata": {"name": "b"}, "spec": {"maxConcurrentNodes": )") + big + "}}")
            .c_str()));
    EXPECT_EQ(b.spec_error(), std::string("PullPolicy b: spec.maxConcurrentNodes: ") + big +
                                  " is out of range: it takes whole numbers from -2147483648 to "
                                  "2147483647; fix the field or remove it");
  }
}

TEST(Projection, DiscoveryPolicy) {
  v1::DiscoveryPolicy d = ProjectDiscoveryPolicy(Parse(R"({
    "metadata": {"name": "cluster", "uid": "d1", "generation": 1, "resourceVersion": "5"},
    "spec": {"interval": "10m", "maxImages": 20, "exclude": ["*:latest"], "prune": true,
             "sources": [{"name": "prom", "prometheus": {"url": "http://p:9090", "query": "q"}}],
             "template": {"nodeSelector": {"pool": "gpu"}, "pullPolicyRef": {"name": "gentle"},
                          "imagePullSecrets": [{"name": "regcred"}]}}})"));
  EXPECT_EQ(d.spec_error(), "");
  EXPECT_EQ(d.spec().interval_ms(), 10 * kMinute);
  EXPECT_EQ(d.spec().max_images(), 20);
  EXPECT_TRUE(d.spec().prune());
  ASSERT_EQ(d.spec().sources_size(), 1);
  EXPECT_EQ(d.spec().sources(0).prometheus().image_label(), "image");  // the default
  EXPECT_EQ(d.spec().template_().pull_policy_ref(), "gentle");
  EXPECT_EQ(d.spec().template_().node_selector(0).value(), "gpu");

  v1::DiscoveryPolicy bad = ProjectDiscoveryPolicy(Parse(R"({"metadata": {"name": "b"},
    "spec": {"interval": "often"}})"));
  EXPECT_EQ(bad.spec().interval_ms(), kDefaultDiscoveryIntervalMs);
  EXPECT_EQ(bad.spec().max_images(), kDefaultDiscoveryMaxImages);
  EXPECT_EQ(
      bad.spec_error().rfind("DiscoveryPolicy b: spec.interval: invalid duration \"often\"", 0), 0u)
      << bad.spec_error();
}

TEST(Projection, IntoTheWatchEventOfItsKind) {
  v1::WatchEvent e;
  EXPECT_TRUE(ProjectInto(v1::KIND_NODE, Parse(R"({"metadata": {"name": "n"}})"), &e));
  EXPECT_EQ(e.node().name(), "n");
  EXPECT_TRUE(ProjectInto(v1::KIND_POD, Parse(R"({"metadata": {"name": "p"}})"), &e));
  EXPECT_EQ(e.object_case(), v1::WatchEvent::kPod);
  EXPECT_FALSE(ProjectInto(v1::KIND_UNKNOWN, Parse("{}"), &e));
}

// Pod watch events recorded from the test cluster (drop's own pods from `make demo`, and pods made
// with kubectl apply), through the informer's decoder, which builds only ProjectedWatchEventFields:
// each projects as the whole event does.
TEST(Projection, RecordedPodEventsProjectTheSameFromTheSelectedFields) {
  int events = 0;
  for (const char* file : {"drop_pod_watch_events.jsonl", "pod_watch_events.jsonl"}) {
    std::ifstream in(std::string(DROP_K8S_TESTDATA) + "/" + file);
    ASSERT_TRUE(in) << file;
    WatchDecoder decoder(&ProjectedWatchEventFields(v1::KIND_POD));
    for (std::string line; std::getline(in, line);) {
      if (line.empty()) continue;
      line += "\n";
      json::object whole = json::parse(line).as_object();
      Result<size_t> used = decoder.Feed(line.data(), line.size());
      ASSERT_TRUE(used.ok()) << used.status().ToString();
      ASSERT_EQ(*used, line.size());
      std::optional<WatchEvent> e = decoder.event();
      ASSERT_TRUE(e.has_value());
      EXPECT_TRUE(ParseWatchEventType(GetString(whole, "type")) == e->type);
      const json::object& object = whole.at("object").as_object();
      EXPECT_EQ(ResourceVersionOf(*e->object), ResourceVersionOf(object));
      EXPECT_EQ(k8s::ProjectPod(*e->object).DebugString(), k8s::ProjectPod(object).DebugString())
          << file << ": " << NameOf(object) << " at " << ResourceVersionOf(object);
      EXPECT_LT(json::serialize(*e->object).size(), json::serialize(object).size() / 3);
      ++events;
    }
  }
  EXPECT_GT(events, 100);
}

}  // namespace
}  // namespace drop::k8s
