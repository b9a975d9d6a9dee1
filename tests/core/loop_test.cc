// The fold's bookkeeping (relists, restarts, replaced objects) and the loop's contract: stamp,
// journal, fold, reconcile, commit, and only then act.
#include "core/loop.h"

#include <gtest/gtest.h>

#include "core/fold.h"
#include "core/index.h"
#include "core/state.h"
#include "core/step.h"
#include "tests/support/builders.h"
#include "tests/support/fakes.h"
#include "tests/support/world.h"

namespace drop {
namespace {

using namespace drop::testing;  // NOLINT(build/namespaces)

constexpr int64_t kSec = 1000;

class LoopTest : public ::testing::Test {
 protected:
  void Submit(v1::Entry e) { loop.Submit(std::move(e)); }
  void Run() { ASSERT_TRUE(loop.RunOnce(std::chrono::milliseconds(0)).ok()); }
  void SubmitAndRun(v1::Entry e) {
    Submit(std::move(e));
    Run();
  }
  void ListEverything() {
    SubmitAndRun(Started());
    for (v1::ObjectKind k :
         {v1::KIND_NODE, v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY, v1::KIND_POD}) {
      SubmitAndRun(RelistBegin(k));
      SubmitAndRun(RelistEnd(k));
    }
  }
  v1::Entry FirstCreate() const {
    for (const v1::Entry& a : executor.actions) {
      if (a.action().has_create_pod()) return a;
    }
    ADD_FAILURE() << "no CreatePod action";
    return v1::Entry();
  }
  bool AnyDecision() const {
    for (const v1::Entry& e : journal.entries) {
      if (IsDecision(e)) return true;
    }
    return false;
  }

  MemoryJournal journal;
  ManualClock clock{World::kStart};
  RecordingExecutor executor;
  Loop loop{InitialState(), &journal, &executor, &clock};
};

TEST_F(LoopTest, NothingIsDecidedUntilEveryWatchedKindIsListed) {
  SubmitAndRun(Started());
  SubmitAndRun(RelistBegin(v1::KIND_NODE));
  SubmitAndRun(Watch(v1::LISTED, NodeBuilder("a")));
  SubmitAndRun(RelistEnd(v1::KIND_NODE));
  SubmitAndRun(RelistBegin(v1::KIND_CACHED_IMAGE));
  SubmitAndRun(Watch(v1::LISTED, ImageBuilder("web", "web:1")));
  SubmitAndRun(RelistEnd(v1::KIND_CACHED_IMAGE));
  SubmitAndRun(RelistBegin(v1::KIND_PULL_POLICY));
  SubmitAndRun(RelistEnd(v1::KIND_PULL_POLICY));
  EXPECT_FALSE(AnyDecision());  // pods not listed yet: a pod may already be on node a
  SubmitAndRun(RelistBegin(v1::KIND_POD));
  SubmitAndRun(RelistEnd(v1::KIND_POD));
  EXPECT_TRUE(AnyDecision());
  EXPECT_EQ(FirstCreate().action().create_pod().pod().node(), "a");
}

TEST_F(LoopTest, ARestartDecidesNothingUntilItHasRelisted) {
  ListEverything();
  ASSERT_TRUE(Synced(loop.state()));
  SubmitAndRun(Started());
  EXPECT_FALSE(Synced(loop.state()));
  size_t before = journal.entries.size();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  EXPECT_EQ(journal.entries.size(), before + 2);  // inputs only
}

TEST_F(LoopTest, ARelistForgetsWhatItDidNotReturn) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("b")));
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  SubmitAndRun(RelistBegin(v1::KIND_NODE));  // e.g. after 410 Gone
  SubmitAndRun(Watch(v1::LISTED, NodeBuilder("b")));
  SubmitAndRun(RelistEnd(v1::KIND_NODE));
  ASSERT_EQ(loop.state().nodes_size(), 1);
  EXPECT_EQ(loop.state().nodes(0).node().name(), "b");
  EXPECT_EQ(loop.state().images_size(), 1);
}

TEST_F(LoopTest, APodBeingCreatedSurvivesARelistThatMissedIt) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  ASSERT_EQ(PodCount(loop.state()), 1);  // issued, create in flight
  SubmitAndRun(RelistBegin(v1::KIND_POD));
  SubmitAndRun(RelistEnd(v1::KIND_POD));
  EXPECT_EQ(PodCount(loop.state()), 1);
  // After a restart no create is in flight any more: a relist that misses it is the truth.
  SubmitAndRun(Started());
  SubmitAndRun(RelistBegin(v1::KIND_POD));
  SubmitAndRun(RelistEnd(v1::KIND_POD));
  EXPECT_EQ(PodCount(loop.state()), 0);
}

TEST_F(LoopTest, ActionsAreExecutedOnlyAfterTheirCommit) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  executor.actions.clear();
  journal.fail_commits = true;
  Submit(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  Result<size_t> r = loop.RunOnce(std::chrono::milliseconds(0));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("journal commit"), std::string::npos);
  EXPECT_TRUE(executor.actions.empty());
  // The loop stays stopped: it cannot know what is durable any more.
  journal.fail_commits = false;
  Submit(Watch(v1::ADDED, NodeBuilder("b")));
  EXPECT_FALSE(loop.RunOnce(std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(executor.actions.empty());
}

TEST_F(LoopTest, OneCommitCoversABatchOfInputs) {
  ListEverything();
  int commits = journal.commits;
  for (int i = 0; i < 50; ++i)
    Submit(Watch(v1::ADDED, NodeBuilder("n" + std::to_string(i))));
  Result<size_t> n = loop.RunOnce(std::chrono::milliseconds(0));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 50u);
  EXPECT_EQ(journal.commits, commits + 1);
}

TEST_F(LoopTest, SequenceNumbersAreContiguousAndTimeNeverGoesBack) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  clock.now_ms -= 60 * kSec;  // the wall clock steps back
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  for (size_t i = 0; i < journal.entries.size(); ++i) {
    EXPECT_EQ(journal.entries[i].seq(), i + 1);
    if (i > 0) {
      EXPECT_GE(journal.entries[i].time_ms(), journal.entries[i - 1].time_ms());
    }
  }
}

TEST_F(LoopTest, ReconcileIdIsTheSequenceNumberOfItsReconcileStarted) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  int decisions = 0;
  for (const v1::Entry& e : journal.entries) {
    if (!IsDecision(e)) {
      EXPECT_EQ(e.reconcile_id(), 0u);
      continue;
    }
    ++decisions;
    const v1::Entry& start = journal.entries[e.reconcile_id() - 1];
    ASSERT_TRUE(start.has_reconcile()) << e.DebugString();
    EXPECT_LE(start.seq(), e.seq());
    EXPECT_FALSE(IsDecision(journal.entries[start.reconcile().trigger_seq() - 1]));
  }
  EXPECT_GT(decisions, 3);
}

TEST_F(LoopTest, AlreadyExistsOnCreateCountsAsCreated) {
  ListEverything();
  SubmitAndRun(Watch(v1::ADDED, NodeBuilder("a")));
  SubmitAndRun(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  const v1::Entry create = FirstCreate();
  SubmitAndRun(CreateResult(create, "AlreadyExists", 409));
  ASSERT_EQ(PodCount(loop.state()), 1);
  EXPECT_TRUE(loop.state().pod_groups(0).pods(0).create_error().empty());
  EXPECT_EQ(loop.state().images(0).consecutive_failures(), 0);
}

// Node "a" and CachedImage web, run for 30 s: long enough for web to be pulled to a.
void PullWebToA(World* w) {
  w->PutNode(NodeBuilder("a"));
  w->PutImage(ImageBuilder("web", "web:1"));
  w->Start();
  w->RunFor(30 * kSec);
}

TEST(Fold, ANodeReplacedUnderTheSameNameHoldsNothingDropPulled) {
  World w;
  PullWebToA(&w);
  ASSERT_EQ(w.Image("web").status().phase(), "Ready");
  w.PutNode(NodeBuilder("a").Uid("another-machine"));
  w.RunFor(kSec / 2);
  EXPECT_EQ(w.Image("web").status().nodes_ready(), 0);
  w.RunFor(30 * kSec);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(w.creations().size(), 2u);
}

// A pod can end after its node is gone (the pod and node watches are separate streams). Its
// outcome is accounted, but the node it names holds nothing: a new machine that comes up under
// the same name is pulled to like any other.
TEST(Fold, APullThatEndsAfterItsNodeIsGoneLeavesNothingForTheNameToInherit) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 5 * kSec}; });
  w.Start();
  w.RunFor(kSec);
  ASSERT_EQ(w.creations().size(), 1u);
  w.RemoveNode("a");
  w.RunFor(10 * kSec);  // the pod succeeds on the node that is gone
  ASSERT_EQ(PodCount(w.state()), 1);
  EXPECT_TRUE(w.state().pod_groups(0).pods(0).accounted());
  EXPECT_EQ(w.state().images(0).pulled_nodes_size(), 0);
  w.PutNode(NodeBuilder("a").Uid("another-machine"));
  w.RunFor(30 * kSec);
  EXPECT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Fold, ACreateThatFailsCountsAsAFailedPullAndLeavesNoPod) {
  MemoryJournal journal;
  ManualClock clock(World::kStart);
  RecordingExecutor executor;
  Loop loop(InitialState(), &journal, &executor, &clock);
  auto run = [&](v1::Entry e) {
    loop.Submit(std::move(e));
    ASSERT_TRUE(loop.RunOnce(std::chrono::milliseconds(0)).ok());
  };
  run(Started());
  for (v1::ObjectKind k :
       {v1::KIND_NODE, v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY, v1::KIND_POD}) {
    run(RelistBegin(k));
    run(RelistEnd(k));
  }
  run(Watch(v1::ADDED, NodeBuilder("a")));
  run(Watch(v1::ADDED, ImageBuilder("web", "web:1")));
  v1::Entry create;
  for (const v1::Entry& a : executor.actions) {
    if (a.action().has_create_pod()) create = a;
  }
  ASSERT_TRUE(create.action().has_create_pod());
  run(CreateResult(create, "Forbidden", 403,
                   "pods is forbidden: User cannot create pods in drop-system"));
  EXPECT_EQ(PodCount(loop.state()), 0);
  ASSERT_EQ(loop.state().images(0).failures_size(), 1);
  EXPECT_EQ(loop.state().images(0).failures(0).reason(), "CreateFailed");
  EXPECT_NE(loop.state().images(0).failures(0).message().find("Forbidden"), std::string::npos);
  EXPECT_EQ(loop.state().images(0).consecutive_failures(), 1);
}

// A create that timed out may have reached the server: when the watch has shown its pod, the pod
// is drop's pull, not a failure whose record goes while the pod pulls on unseen (it did, and a
// second pod of the image could then come to its node).
TEST(Fold, ACreateWithoutAnAnswerWhosePodTheWatchShowedIsAPullNotAFailure) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.LoseNextCreateAnswer();
  w.Start();
  w.RunFor(30 * kSec);
  ASSERT_EQ(w.creations().size(), 1u);
  bool lost = false;
  for (const v1::Entry& e : w.journal()) {
    lost = lost ||
           (e.has_action_result() && !e.action_result().ok() && e.action_result().http_code() == 0);
    EXPECT_FALSE(e.has_outcome() && e.outcome().reason() == "CreateFailed") << e.seq();
  }
  EXPECT_TRUE(lost) << "the create's answer was not lost";
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
  EXPECT_EQ(w.Image("web").status().consecutive_failures(), 0);
}

// A delete the server refuses (here as RBAC without the delete verb would, 403) is tried again
// after a pause that doubles with each refusal, up to five minutes. It was once sent again at
// once, in a loop as fast as the server answered; then every 5 s, which at thousands of finished
// pods would fill the executor's queue ahead of the creates and status writes.
TEST(Fold, ADeleteTheServerRefusesIsTriedAgainAfterAPauseThatDoubles) {
  World w;
  w.PutPolicy(PolicyBuilder("p", 1).Ttl(10 * kSec));
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.Start();
  w.RunFor(3 * kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  ASSERT_EQ(w.pods().begin()->second.phase(), v1::POD_SUCCEEDED);
  w.RefuseDeletes(true);
  std::vector<int64_t> refused;  // when each delete was refused
  size_t read = 0;
  auto count = [&] {
    for (; read < w.journal().size(); ++read) {
      const v1::Entry& e = w.journal()[read];
      if (e.has_action_result() && e.action_result().kind() == v1::ACTION_DELETE_POD &&
          e.action_result().reason() == "Forbidden") {
        refused.push_back(e.time_ms());
      }
    }
    return refused.size();
  };
  EXPECT_FALSE(w.RunUntil([&] { return count() > 50; }, 30 * 60 * kSec)) << refused.size();
  // The TTL ends 11 s after the start; then the pause doubles from kDeleteRetryDelayMs with each
  // refusal, up to kMaxDeleteRetryDelayMs: 5 s, 10 s, ... 160 s, then every 5 min.
  ASSERT_GE(refused.size(), 9u);
  EXPECT_LE(refused.size(), 12u);
  for (size_t i = 1; i < refused.size(); ++i) {
    const int64_t pause = DeleteRetryDelay(static_cast<int32_t>(i));
    EXPECT_GE(refused[i] - refused[i - 1], pause) << i;
    EXPECT_LE(refused[i] - refused[i - 1], pause + kSec) << i;
  }
  EXPECT_EQ(refused.back() - refused[refused.size() - 2], kMaxDeleteRetryDelayMs);
  w.RefuseDeletes(false);
  w.RunFor(kMaxDeleteRetryDelayMs);
  EXPECT_TRUE(w.pods().empty()) << "the delete allowed again did not go out";
}

// A pod replaced under its name while no watch told: the TTL delete of the pod drop knew meets
// its uid precondition (409 Conflict), again after each pause, and the record of that pod holds
// the node meanwhile: drop knows a pod is there, not which. Once the watch shows the pod that
// took the name (here a relist), drop follows it: it hangs, times out, and goes with its uid.
TEST(Fold, ADeleteThatMeetsAnotherPodUnderTheNameWaitsForTheWatchToShowIt) {
  World w;
  w.PutPolicy(PolicyBuilder("p", 1).Ttl(10 * kSec).Timeout(30 * kSec));
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  int pulls = 0;
  w.SetBehaviour([&](const v1::Pod&) {
    return ++pulls == 1 ? Pull{Pull::kSucceed, kSec} : Pull{Pull::kHang, 0};
  });
  w.Start();
  w.RunFor(3 * kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  const std::string name = w.pods().begin()->first;
  w.ReplaceUnseen(name);
  const std::string replacement = w.pods().at(name).uid();
  w.RunFor(30 * kSec);
  int conflicts = 0;
  for (const v1::Entry& e : w.journal()) {
    conflicts += e.has_action_result() && e.action_result().kind() == v1::ACTION_DELETE_POD &&
                 e.action_result().reason() == "Conflict";
  }
  EXPECT_GE(conflicts, 2);
  EXPECT_LE(conflicts, 6);
  w.Relist();
  w.RunFor(60 * kSec);
  auto left = w.pods().find(name);
  EXPECT_TRUE(left == w.pods().end() || left->second.uid() != replacement)
      << "the hung pod that took the name is still there after its pull timeout";
  EXPECT_EQ(w.double_pods(), 0);
}

// A restart clears the requeue that would retry a failed delete. The pod relist that follows
// reconciles the CachedImage of each pod it lists, one that is gone too: the orphan goes.
TEST(Fold, AnOrphanWhoseDeleteFailedIsDeletedAfterARestart) {
  World w;
  w.PutNode(NodeBuilder("a"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.Start();
  w.RunFor(5 * kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  w.FailNextDelete();
  w.DeleteImage("web");  // its Orphaned delete fails, to be tried again in 5 s
  w.RunFor(kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  w.Restart();
  w.RunFor(30 * kSec);
  EXPECT_TRUE(w.pods().empty()) << "the orphan is still there";
}

// An entry that updates a pod's record in place (it adds and erases none) moves that pod's
// standing alone: a pod accounted as pulled that the kubelet then reports Failed stands among
// the failed ones, as in an index built afresh.
TEST(Index, APodRecordUpdatedInPlaceStandsAsItNowReads) {
  World w;
  PullWebToA(&w);
  v1::State state = w.state();
  ASSERT_EQ(PodCount(state), 1);
  ASSERT_TRUE(state.pod_groups(0).pods(0).accounted());
  ASSERT_EQ(state.pod_groups(0).pods(0).pod().phase(), v1::POD_SUCCEEDED);
  Index index(state);
  v1::Pod pod = state.pod_groups(0).pods(0).pod();
  pod.set_phase(v1::POD_FAILED);
  v1::Entry e = Watch(v1::MODIFIED, pod);
  e.set_seq(state.last_seq() + 1);
  e.set_time_ms(w.now());
  index.Apply(e, &state);
  ASSERT_EQ(state.pod_groups(0).pods(0).pod().phase(), v1::POD_FAILED);
  EXPECT_EQ(index.Differences(state), "");
}

// A relist's end erases the records the relist did not return: the index follows when it erases
// some, and stays as it is, still equal to one built afresh, when it erases none.
TEST(Index, ARelistEndMovesTheStandingsOfWhatItErased) {
  World w;
  w.PutNode(NodeBuilder("b"));
  PullWebToA(&w);
  v1::State state = w.state();
  ASSERT_EQ(state.nodes_size(), 2);
  Index index(state);
  ASSERT_EQ(index.Standing("web")->targeted, 2);
  auto apply = [&](v1::Entry e) {
    e.set_seq(state.last_seq() + 1);
    e.set_time_ms(w.now());
    index.Apply(e, &state);
  };
  for (const char* listed : {"a", "b"}) {  // both there: nothing erased
    apply(RelistBegin(v1::KIND_NODE));
    apply(Watch(v1::LISTED, NodeBuilder("a")));
    apply(Watch(v1::LISTED, NodeBuilder("b")));
    apply(RelistEnd(v1::KIND_NODE));
    ASSERT_EQ(state.nodes_size(), 2);
    EXPECT_EQ(index.Differences(state), "");
    // Node `listed` alone: the other one is gone.
    apply(RelistBegin(v1::KIND_NODE));
    apply(Watch(v1::LISTED, NodeBuilder(listed)));
    apply(RelistEnd(v1::KIND_NODE));
    ASSERT_EQ(state.nodes_size(), 1);
    EXPECT_EQ(index.Standing("web")->targeted, 1);
    EXPECT_EQ(index.Differences(state), "") << "after a relist that kept node " << listed;
    apply(Watch(v1::ADDED, NodeBuilder(listed == std::string("a") ? "b" : "a")));
  }
}

}  // namespace
}  // namespace drop
