// CachedImage phases and the Ready condition (DESIGN.md section 1), and the status fields the
// user guide names, as drop writes them through the simulated API server.
#include <gtest/gtest.h>

#include "core/fold.h"
#include "core/state.h"
#include "core/step.h"
#include "tests/support/builders.h"
#include "tests/support/query.h"
#include "tests/support/world.h"

namespace drop {
namespace {

using testing::ImageBuilder;
using testing::NodeBuilder;
using testing::PolicyBuilder;
using testing::Pull;
using testing::World;

constexpr int64_t kSec = 1000;

const v1::Condition& Ready(const World& w, const std::string& name) {
  const v1::CachedImageStatus& s = w.Image(name).status();
  EXPECT_EQ(s.conditions_size(), 1);
  return s.conditions(0);
}

int CreationsOn(const World& w, const std::string& node) {
  int n = 0;
  for (const auto& c : w.creations())
    n += c.node == node;
  return n;
}

TEST(Phase, PendingUntilTheFirstDropPodIsCreated) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutPolicy(PolicyBuilder("p", 1));
  w.PutImage(ImageBuilder("first", "first:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 30 * kSec}; });
  w.Start();
  w.RunFor(kSec);
  w.PutImage(ImageBuilder("second", "second:1").Policy("p"));  // the only slot is taken
  w.RunFor(kSec);
  EXPECT_EQ(w.Image("second").status().phase(), "Pending");
  EXPECT_EQ(Ready(w, "second").reason(), "Pulling");
  EXPECT_EQ(w.Image("second").status().nodes_targeted(), 1);
  w.RunFor(30 * kSec);
  EXPECT_EQ(w.Image("second").status().phase(), "Pulling");
}

TEST(Phase, PullingWhileTargetedNodesLackTheImage) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutNode(NodeBuilder("b"));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.PutPolicy(PolicyBuilder("p", 1));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 5 * kSec}; });
  w.Start();
  w.RunFor(6 * kSec);
  const v1::CachedImageStatus& s = w.Image("web").status();
  EXPECT_EQ(s.phase(), "Pulling");
  EXPECT_EQ(s.nodes_targeted(), 2);
  EXPECT_EQ(s.nodes_ready(), 1);
  EXPECT_EQ(Ready(w, "web").status(), "False");
  EXPECT_EQ(Ready(w, "web").reason(), "Pulling");
  EXPECT_EQ(Ready(w, "web").message(),
            "1 of 2 targeted nodes hold the image; pulls paced by PullPolicy p");
}

TEST(Phase, ReadyWhenEveryTargetedNodeHoldsTheImage) {
  World w;
  for (const char* n : {"c", "a", "b"})
    w.PutNode(NodeBuilder(n));
  w.PutPolicy(PolicyBuilder("p", 3));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.Start();
  w.RunFor(30 * kSec);
  const v1::CachedImageStatus& s = w.Image("web").status();
  EXPECT_EQ(s.phase(), "Ready");
  EXPECT_EQ(s.nodes_targeted(), 3);
  EXPECT_EQ(s.nodes_ready(), 3);
  EXPECT_EQ(std::vector<std::string>(s.cached_nodes().begin(), s.cached_nodes().end()),
            (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(s.observed_generation(), 1);
  EXPECT_EQ(s.consecutive_failures(), 0);
  EXPECT_EQ(Ready(w, "web").status(), "True");
  EXPECT_EQ(Ready(w, "web").reason(), "AllNodesCached");
  EXPECT_EQ(Ready(w, "web").message(), "All 3 targeted nodes hold web:1");
  int ready_events = 0;
  for (const v1::EmitEvent& e : w.events())
    ready_events += e.reason() == "Ready";
  EXPECT_EQ(ready_events, 1);
}

TEST(Phase, AnImageAlreadyOnANodeCountsAsCachedWithoutAPod) {
  World w;
  w.PutNode(NodeBuilder("a").Image("docker.io/library/web:1"));
  w.PutNode(NodeBuilder("b"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.Start();
  w.RunFor(60 * kSec);
  EXPECT_EQ(CreationsOn(w, "a"), 0);
  EXPECT_EQ(CreationsOn(w, "b"), 1);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Phase, AnImageEverywhereAlreadyIsReadyAtOnce) {
  World w;
  w.PutNode(NodeBuilder("a").Image("web:1"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.Start();
  EXPECT_TRUE(w.creations().empty());
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Phase, UnderImagePullPolicyAlwaysAListedImageIsPulledAgain) {
  World w;
  w.PutNode(NodeBuilder("a").Image("web:latest"));
  w.PutPolicy(PolicyBuilder("fresh", 1).Always());
  w.PutImage(ImageBuilder("web", "web:latest").Policy("fresh"));
  w.Start();
  w.RunFor(30 * kSec);
  EXPECT_EQ(CreationsOn(w, "a"), 1);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Phase, ANodeThatJoinsLaterSendsItBackToPulling) {
  World w;
  w.PutNode(NodeBuilder("gpu-0").Labels({{"pool", "gpu"}}));
  w.PutImage(ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}}));
  w.Start();
  w.RunFor(30 * kSec);
  ASSERT_EQ(w.Image("web").status().phase(), "Ready");
  w.PutNode(NodeBuilder("cpu-0").Labels({{"pool", "cpu"}}));  // does not match
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  w.PutNode(NodeBuilder("gpu-1").Labels({{"pool", "gpu"}}));
  w.RunFor(kSec / 2);
  EXPECT_EQ(w.Image("web").status().phase(), "Pulling");
  EXPECT_EQ(w.Image("web").status().nodes_targeted(), 2);
  w.RunFor(30 * kSec);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(CreationsOn(w, "gpu-1"), 1);
  EXPECT_EQ(CreationsOn(w, "cpu-0"), 0);
}

TEST(Phase, ASpecImageChangeForgetsEveryCachedNode) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutNode(NodeBuilder("b"));
  w.PutPolicy(PolicyBuilder("p", 2));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.Start();
  w.RunFor(30 * kSec);
  ASSERT_EQ(w.Image("web").status().phase(), "Ready");
  w.PutImage(ImageBuilder("web", "web:2").Policy("p"));
  w.RunFor(kSec / 2);
  const v1::CachedImageStatus& s = w.Image("web").status();
  EXPECT_EQ(s.observed_generation(), 2);
  EXPECT_EQ(s.nodes_ready(), 0);
  EXPECT_EQ(s.phase(), "Pulling");
  // The finished pods of web:1 held the node's pod slot: they go as Superseded.
  EXPECT_EQ(testing::Deletes(w.journal(), "Superseded").size(), 2u);
  w.RunFor(30 * kSec);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(w.creations().size(), 4u);
  EXPECT_EQ(w.double_pods(), 0);
}

TEST(Phase, NoMatchingNodesIsPendingWithItsReason) {
  World w;
  w.PutNode(NodeBuilder("a").Labels({{"pool", "cpu"}}));
  w.PutNode(NodeBuilder("b").Labels({{"pool", "gpu"}}).NotReady());
  w.PutImage(ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}}));
  w.Start();
  EXPECT_EQ(w.Image("web").status().phase(), "Pending");
  EXPECT_EQ(w.Image("web").status().nodes_targeted(), 0);
  EXPECT_EQ(Ready(w, "web").reason(), "NoMatchingNodes");
  EXPECT_EQ(Ready(w, "web").message(),
            "No Ready, schedulable node matches spec.nodeSelector and spec.tolerations: of the 1 "
            "node with labels pool=gpu, 1 is NotReady");
  EXPECT_TRUE(w.creations().empty());
}

// "Why was no node pulled?" answered in the status: the nodes the selector picks, counted by why
// each is left out, and an untolerated taint named with a node that carries it.
TEST(Phase, NoMatchingNodesCountsEachCauseAndNamesATaint) {
  World w;
  w.PutNode(NodeBuilder("cpu-1").Labels({{"pool", "cpu"}}));
  w.PutNode(NodeBuilder("gpu-1").Labels({{"pool", "gpu"}}).Taint("dedicated", "ml", "NoSchedule"));
  w.PutNode(NodeBuilder("gpu-2").Labels({{"pool", "gpu"}}).Taint("dedicated", "ml", "NoSchedule"));
  w.PutNode(NodeBuilder("gpu-3").Labels({{"pool", "gpu"}}).Unschedulable());
  w.PutImage(ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}}));
  w.Start();
  const std::string why =
      "No Ready, schedulable node matches spec.nodeSelector and spec.tolerations: of the 3 nodes "
      "with labels pool=gpu, 1 is cordoned (unschedulable), 2 have taints spec.tolerations does "
      "not tolerate (node gpu-1: dedicated=ml:NoSchedule); add a toleration to spec.tolerations "
      "to target them";
  EXPECT_EQ(Ready(w, "web").reason(), "NoMatchingNodes");
  EXPECT_EQ(Ready(w, "web").message(), why);
  // A node the selector does not pick changes nothing: no status write for every node that joins.
  w.RunFor(30 * kSec);
  const size_t entries = w.journal().size();
  w.PutNode(NodeBuilder("cpu-2").Labels({{"pool", "cpu"}}));
  w.RunFor(30 * kSec);
  EXPECT_EQ(Ready(w, "web").message(), why);
  for (size_t i = entries; i < w.journal().size(); ++i)
    EXPECT_FALSE(IsDecision(w.journal()[i])) << w.journal()[i].DebugString();
  // Uncordoning a node targets it: the reason goes with the cause.
  w.PutNode(NodeBuilder("gpu-3").Labels({{"pool", "gpu"}}));
  w.RunFor(kSec);
  EXPECT_EQ(w.Image("web").status().nodes_targeted(), 1);
  EXPECT_EQ(Ready(w, "web").reason(), "Pulling");
}

// A node that joins or goes counts even when it stands as no node at all would (NotReady, for an
// image with no selector): the message follows it.
TEST(Phase, NoMatchingNodesCountsANodeThatJoinsOrGoes) {
  World w;
  w.PutNode(NodeBuilder("n0").NotReady());
  w.PutImage(ImageBuilder("web", "web:1"));
  w.Start();
  const std::string head =
      "No Ready, schedulable node matches spec.nodeSelector and spec.tolerations: ";
  EXPECT_EQ(Ready(w, "web").message(), head + "of the 1 node, 1 is NotReady");
  w.RunFor(30 * kSec);
  w.PutNode(NodeBuilder("n1").NotReady());
  w.RunFor(kSec);
  EXPECT_EQ(Ready(w, "web").message(), head + "of the 2 nodes, 2 are NotReady");
  w.RunFor(30 * kSec);
  w.RemoveNode("n0");
  w.RunFor(kSec);
  EXPECT_EQ(Ready(w, "web").message(), head + "of the 1 node, 1 is NotReady");
}

TEST(Phase, NoMatchingNodesSaysWhenTheSelectorPicksNoNodeOrThereIsNone) {
  World w;
  w.PutNode(NodeBuilder("a").Labels({{"pool", "cpu"}}));
  w.PutImage(ImageBuilder("gpu", "web:1").Selector({{"pool", "gpu"}}));
  w.Start();
  const std::string head =
      "No Ready, schedulable node matches spec.nodeSelector and spec.tolerations: ";
  EXPECT_EQ(Ready(w, "gpu").message(),
            head +
                "no node has the labels of spec.nodeSelector (pool=gpu); label the nodes, or "
                "change spec.nodeSelector");
  World empty;
  empty.PutImage(ImageBuilder("web", "web:1"));
  empty.Start();
  EXPECT_EQ(Ready(empty, "web").message(), head + "the cluster has no nodes");
}

TEST(Phase, APodThatFailsBeforeItsContainerRanIsNotGivenAnExitCode) {
  World w;
  w.PutNode(NodeBuilder("n0"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kGone, kSec}; });
  w.Start();
  w.RunFor(5 * kSec);
  const v1::CachedImageStatus& s = w.Image("web").status();
  ASSERT_EQ(s.failed_nodes_size(), 1);
  EXPECT_EQ(s.failed_nodes(0).reason(), "PodFailed");
  // Not "exit code 0": no container exited.
  EXPECT_EQ(s.failed_nodes(0).message(),
            "the pod failed before its container ran (PodInitializing); was it deleted or "
            "evicted, or its node lost?");
}

// nextPullTime is "when pacing or backoff next allows a pull, if waiting" (DESIGN.md section 1):
// an image the policy's least delay between creations holds gives the time the delay ends.
TEST(Phase, AnImageHeldByThePolicysMinimumDelayGivesWhenItPullsNext) {
  World w;
  for (int i = 0; i < 3; ++i)
    w.PutNode(NodeBuilder("n" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("p", 5, 30 * kSec));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 5 * kSec}; });
  w.Start();
  w.RunFor(10 * kSec);
  ASSERT_EQ(w.creations().size(), 1u);
  const int64_t first = w.creations()[0].at;
  EXPECT_EQ(w.Image("web").status().next_pull_time_ms(), first + 30 * kSec);
  w.RunFor(30 * kSec);
  ASSERT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(w.creations()[1].at, first + 30 * kSec);
  EXPECT_EQ(w.Image("web").status().next_pull_time_ms(), first + 60 * kSec);
  w.RunFor(60 * kSec);
  ASSERT_EQ(w.creations().size(), 3u);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(w.Image("web").status().next_pull_time_ms(), 0) << "nothing is waiting";
}

TEST(Phase, DegradedAfterMaxConsecutiveFailuresThenHealsOnSuccess) {
  World w;
  for (int i = 0; i < 6; ++i)
    w.PutNode(NodeBuilder("n" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(kSec, 4 * kSec, 2, 3));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  bool broken = true;
  w.SetBehaviour([&](const v1::Pod&) {
    return broken ? Pull{Pull::kExitFailure, kSec} : Pull{Pull::kSucceed, kSec};
  });
  w.Start();
  w.RunUntil([&] { return w.Image("web").status().phase() == "Degraded"; }, 120 * kSec);
  const v1::CachedImageStatus& s = w.Image("web").status();
  ASSERT_EQ(s.phase(), "Degraded");
  EXPECT_EQ(s.consecutive_failures(), 3);
  EXPECT_EQ(Ready(w, "web").reason(), "Degraded");
  const std::string message = Ready(w, "web").message();
  EXPECT_TRUE(message.starts_with("3 consecutive pull failures (last on node n")) << message;
  EXPECT_TRUE(
      message.ends_with(": Error); 0 of 6 targeted nodes hold the image; retrying with "
                        "backoff, check the drop pods' events"))
      << message;
  EXPECT_EQ(s.failed_nodes_size(), 3);
  EXPECT_EQ(s.failed_nodes(0).reason(), "Error");
  EXPECT_GT(s.next_pull_time_ms(), w.now());
  bool warned = false;
  for (const v1::EmitEvent& e : w.events())
    warned |= e.reason() == "Degraded" && e.type() == "Warning";
  EXPECT_TRUE(warned);
  broken = false;  // the registry recovers
  w.RunFor(120 * kSec);
  EXPECT_EQ(w.Image("web").status().consecutive_failures(), 0);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(w.Image("web").status().failed_nodes_size(), 0);
}

TEST(Phase, FailedNodesListIsBoundedToTheLatest) {
  World w;
  for (int i = 0; i < 15; ++i)
    w.PutNode(NodeBuilder("n" + std::to_string(10 + i)));
  w.PutPolicy(PolicyBuilder("p", 15).Backoff(0, 0, 1, 100));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kExitFailure, kSec}; });
  w.Start();
  w.RunFor(5 * kSec);
  EXPECT_EQ(w.Image("web").status().failed_nodes_size(), 10);
  EXPECT_GE(w.Image("web").status().consecutive_failures(), 15);
}

TEST(Phase, AnUnknownPullPolicyIsReportedAndPullsWaitForIt) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1").Policy("fast"));
  w.PutImage(ImageBuilder("other", "other:1"));
  w.Start();
  w.RunFor(10 * kSec);
  EXPECT_EQ(w.Image("web").status().phase(), "Pending");
  EXPECT_EQ(Ready(w, "web").reason(), "PullPolicyNotFound");
  EXPECT_EQ(Ready(w, "web").message(),
            "CachedImage web: pullPolicyRef 'fast' not found; create PullPolicy fast or remove the "
            "field");
  EXPECT_EQ(w.Image("other").status().phase(), "Ready");  // the others keep working
  w.PutPolicy(PolicyBuilder("fast", 5));
  w.RunFor(10 * kSec);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Phase, APullPolicyDeletedWhileInUseStopsNewPullsWithACondition) {
  World w;
  for (int i = 0; i < 4; ++i)
    w.PutNode(NodeBuilder("n" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("p", 1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 10 * kSec}; });
  w.Start();
  w.RunFor(kSec);
  w.DeletePolicy("p");
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.creations().size(), 1u);
  EXPECT_EQ(Ready(w, "web").reason(), "PullPolicyNotFound");
  EXPECT_EQ(w.Image("web").status().nodes_ready(), 1);  // the pull in flight still counted
}

TEST(Phase, AnEmptyOrMalformedImageIsInvalidSpec) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("empty", ""));
  w.PutImage(ImageBuilder("upper", "Registry/App:1"));
  w.PutImage(ImageBuilder("fine", "fine:1"));
  w.Start();
  w.RunFor(30 * kSec);
  EXPECT_EQ(Ready(w, "empty").reason(), "InvalidSpec");
  EXPECT_NE(Ready(w, "empty").message().find("spec.image"), std::string::npos);
  EXPECT_EQ(Ready(w, "upper").reason(), "InvalidSpec");
  EXPECT_EQ(w.Image("fine").status().phase(), "Ready");
  EXPECT_EQ(w.creations().size(), 1u);
}

TEST(Phase, ATolerationOrSelectorTheApiServerWouldRefuseIsInvalidSpec) {
  World w;
  w.PutNode(NodeBuilder("a").Labels({{"pool", "gpu"}}).Taint("gpu", "true", "NoSchedule"));
  v1::CachedImage seconds =
      ImageBuilder("seconds", "web:1").Tolerate("gpu", "Equal", "true", "NoSchedule");
  seconds.mutable_spec()->mutable_tolerations(0)->set_has_toleration_seconds(true);
  seconds.mutable_spec()->mutable_tolerations(0)->set_toleration_seconds(30);
  w.PutImage(seconds);
  w.PutImage(ImageBuilder("key", "web:1").Tolerate("bad key!", "Exists", "", "NoSchedule"));
  w.PutImage(ImageBuilder("value", "web:1").Tolerate("gpu", "Equal", "not ok!", "NoSchedule"));
  w.PutImage(ImageBuilder("selector", "web:1").Selector({{"pool", "gpu?"}}));
  w.PutImage(ImageBuilder("fine", "web:1").Tolerate("gpu", "Equal", "true", "NoSchedule"));
  w.Start();
  w.RunFor(30 * kSec);
  // Each would have its every pod create refused (422) and counted as a failed pull, or match no
  // node without saying why.
  for (const char* name : {"seconds", "key", "value", "selector"}) {
    EXPECT_EQ(Ready(w, name).reason(), "InvalidSpec") << name << ": " << Ready(w, name).message();
  }
  EXPECT_NE(Ready(w, "seconds")
                .message()
                .find("tolerationSeconds is set, so the effect must be "
                      "NoExecute"),
            std::string::npos);
  EXPECT_EQ(w.Image("fine").status().phase(), "Ready");
}

TEST(Phase, ANegativeLimitMakesItsCachedImagesInvalidSpec) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutPolicy(PolicyBuilder("broken", -1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("broken"));
  w.Start();
  w.RunFor(30 * kSec);
  EXPECT_EQ(Ready(w, "web").reason(), "InvalidSpec");
  EXPECT_EQ(Ready(w, "web").message(),
            "PullPolicy broken: spec.maxConcurrentNodes is -1; it must be at least 1");
  EXPECT_TRUE(w.creations().empty());
}

// A PullPolicy has no status: its error is a Warning Event on it, once for each generation, so a
// user who applied it sees it in `kubectl describe pullpolicy` without a flood of repeats.
TEST(Phase, AnInvalidPullPolicyIsToldInOneEventOnItForEachGeneration) {
  World w;
  testing::StartWithAnInvalidPolicy(&w);
  w.RunFor(30 * kSec);
  auto warnings = [&] {
    std::vector<v1::EmitEvent> out;
    for (const v1::EmitEvent& e : w.events())
      if (e.kind() == v1::KIND_PULL_POLICY) out.push_back(e);
    return out;
  };
  ASSERT_EQ(warnings().size(), 1u);
  v1::EmitEvent e = warnings()[0];
  EXPECT_EQ(e.name(), "broken");
  EXPECT_EQ(e.uid(), "uid-broken");
  EXPECT_EQ(e.type(), "Warning");
  EXPECT_EQ(e.reason(), "InvalidSpec");
  EXPECT_EQ(e.message(),
            "PullPolicy broken: spec.maxConcurrentNodes is 0; it must be at least 1; no "
            "CachedImage under it pulls until it is fixed");
  // The same generation again (a relist, a resync) tells nothing new.
  w.PutPolicy(PolicyBuilder("broken", 0));
  w.RunFor(kSec);
  EXPECT_EQ(warnings().size(), 1u);
  // A new generation, still wrong, is told of again; once it is right, nothing is.
  PolicyBuilder wrong("broken", -3);
  wrong.object.set_generation(2);
  w.PutPolicy(wrong);
  w.RunFor(kSec);
  ASSERT_EQ(warnings().size(), 2u);
  EXPECT_EQ(warnings()[1].message(),
            "PullPolicy broken: spec.maxConcurrentNodes is -3; it must be at least 1; no "
            "CachedImage under it pulls until it is fixed");
  PolicyBuilder fixed("broken", 1);
  fixed.object.set_generation(3);
  w.PutPolicy(fixed);
  w.RunFor(30 * kSec);
  EXPECT_EQ(warnings().size(), 2u);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  // A new object under the name (deleted and made again while drop did not watch: a relist shows
  // it with a new uid, at generation 1 again) is told of.
  PolicyBuilder again("broken", 0);
  again.object.set_uid("uid-broken-2");
  w.PutPolicy(again);
  w.RunFor(kSec);
  ASSERT_EQ(warnings().size(), 3u);
  EXPECT_EQ(warnings()[2].uid(), "uid-broken-2");
}

// Events expire, and a process that stopped may not have sent its own: a new operator process
// forgets which generations were told of, and tells again once it has listed the cluster.
TEST(Phase, ANewOperatorProcessTellsAgainOfAnInvalidPullPolicy) {
  v1::State state = InitialState();
  v1::PolicyRecord* p = state.add_policies();
  *p->mutable_object() = PolicyBuilder("broken", 0);
  p->set_warned_generation(1);
  v1::Entry started;
  started.set_seq(1);
  started.mutable_started()->mutable_config()->set_namespace_("drop-system");
  Apply(started, &state);
  EXPECT_FALSE(state.policies(0).has_warned_generation());
}

TEST(Phase, TaintedNodesAreTargetedOnlyWithAToleration) {
  World w;
  w.PutNode(NodeBuilder("plain"));
  w.PutNode(NodeBuilder("gpu").Taint("gpu", "true", "NoSchedule"));
  w.PutNode(NodeBuilder("cordoned").Unschedulable());
  w.PutImage(ImageBuilder("plain-only", "a:1"));
  w.PutImage(ImageBuilder("everywhere", "b:1").Tolerate("gpu", "Exists", "", "NoSchedule"));
  w.Start();
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.Image("plain-only").status().nodes_targeted(), 1);
  EXPECT_EQ(w.Image("everywhere").status().nodes_targeted(), 2);
  for (const auto& c : w.creations()) {
    EXPECT_NE(c.node, "cordoned");
    if (c.node == "gpu") {
      EXPECT_EQ(c.image, "everywhere");
    }
  }
}

TEST(Phase, LastTransitionTimeMovesOnlyWithTheConditionStatus) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutNode(NodeBuilder("b"));
  w.PutPolicy(PolicyBuilder("p", 1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 5 * kSec}; });
  w.Start();
  int64_t first = Ready(w, "web").last_transition_time_ms();
  w.RunFor(6 * kSec);  // one node done: message changes, status stays False
  EXPECT_EQ(Ready(w, "web").last_transition_time_ms(), first);
  w.RunFor(30 * kSec);
  EXPECT_EQ(Ready(w, "web").status(), "True");
  EXPECT_GT(Ready(w, "web").last_transition_time_ms(), first);
}

TEST(Phase, DeletingACachedImageDeletesItsPods) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 60 * kSec}; });
  w.Start();
  w.RunFor(kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  w.DeleteImage("web");
  w.RunFor(kSec);
  EXPECT_TRUE(w.pods().empty());
  EXPECT_EQ(testing::Deletes(w.journal(), "Orphaned").size(), 1u);
}

}  // namespace
}  // namespace drop
