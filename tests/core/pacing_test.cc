// The pacing rules of DESIGN.md section 2, one test per rule, on the real core in a simulated
// cluster (tests/support/world.h).
#include "core/pacing.h"

#include <gtest/gtest.h>

#include <set>

#include "core/fold.h"
#include "core/index.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "tests/support/builders.h"
#include "tests/support/query.h"
#include "tests/support/world.h"

namespace drop {
namespace {

using testing::Decisions;
using testing::ImageBuilder;
using testing::NodeBuilder;
using testing::PolicyBuilder;
using testing::Pull;
using testing::World;

constexpr int64_t kSec = 1000;

void AddNodes(World& w, int n, const std::string& prefix = "node-") {
  for (int i = 0; i < n; ++i)
    w.PutNode(NodeBuilder(prefix + std::to_string(i)));
}

int Pending(const World& w) {
  int n = 0;
  for (const auto& [name, pod] : w.pods()) {
    n += pod.phase() == v1::POD_PENDING || pod.phase() == v1::POD_RUNNING;
  }
  return n;
}

Pull Takes(int64_t ms) {
  return Pull{Pull::kSucceed, ms};
}

// The CachedImages of the drop pods made, in the order they were made: "abca...".
std::string ImagesInCreationOrder(const World& w) {
  std::string order;
  for (const auto& c : w.creations())
    order += c.image;
  return order;
}

TEST(Pacing, ConcurrencyLimitCapsActivePods) {
  World w;
  AddNodes(w, 5);
  w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/2));
  w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(10 * kSec); });
  w.Start();
  w.RunFor(5 * kSec);
  EXPECT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(Pending(w), 2);
  std::vector<v1::PacingDecision> waits = Decisions(w.journal(), v1::WAIT_CONCURRENCY);
  ASSERT_FALSE(waits.empty());
  EXPECT_EQ(waits.back().active(), 2);
  EXPECT_EQ(waits.back().limit(), 2);
  EXPECT_EQ(waits.back().policy(), "gentle");
  w.RunFor(10 * kSec);  // the first two end; two more start
  EXPECT_EQ(w.creations().size(), 4u);
}

TEST(Pacing, ErrImagePullPodsDoNotBlockOtherPulls) {
  World w;
  AddNodes(w, 3);
  w.PutPolicy(PolicyBuilder("one", /*max_concurrent=*/1));
  w.PutImage(ImageBuilder("broken", "web:broken").Policy("one"));
  w.PutImage(ImageBuilder("web", "web:1").Policy("one"));
  w.SetBehaviour([](const v1::Pod& pod) {
    return pod.cached_image() == "broken" ? Pull{Pull::kNotFound, 0} : Takes(60 * kSec);
  });
  w.Start();
  w.RunFor(2 * kSec);
  // broken's pod waits on ErrImagePull/ImagePullBackOff; it no longer holds the only slot.
  ASSERT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(w.creations()[0].image, "broken");
  EXPECT_EQ(w.creations()[1].image, "web");
  EXPECT_EQ(Pending(w), 2);
  EXPECT_EQ(CountActive(w.state(), "one"), 1);
}

// Pulls of the image, ended or not, at `at` (creations up to and including it).
int CreatedBy(const World& w, int64_t at) {
  int n = 0;
  for (const auto& c : w.creations())
    n += c.at <= at;
  return n;
}

// Outcomes of the image decided up to and including `at`.
int AccountedBy(const World& w, int64_t at) {
  int n = 0;
  for (const v1::Entry& e : w.journal())
    n += e.has_outcome() && e.time_ms() <= at;
  return n;
}

TEST(Pacing, AFailingImagePullsOnOneNodeAtATime) {
  World w;
  AddNodes(w, 60);
  w.PutPolicy(PolicyBuilder("fast", /*max_concurrent=*/10).Backoff(10 * kSec, 40 * kSec, 2, 100));
  w.PutImage(ImageBuilder("web", "web:broken").Policy("fast"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kNotFound, 0}; });
  w.Start();
  // The first pass starts the policy's 10; each is ErrImagePull half a second later, which frees
  // its slot, but the image's pull is failing: no other node tries it meanwhile.
  w.RunFor(10 * kSec);
  EXPECT_EQ(w.creations().size(), 10u);
  std::vector<v1::PacingDecision> held = Decisions(w.journal(), v1::WAIT_BACKOFF);
  ASSERT_FALSE(held.empty());
  EXPECT_EQ(held[0].in_flight_pod(), w.creations()[0].pod);
  EXPECT_EQ(held[0].not_before_ms(), 0);
  // Counted as failures (ImagePullBackOff twice), then after each backoff one node probes it: a
  // pull starts only when every earlier one has been accounted.
  w.RunFor(300 * kSec);
  ASSERT_GT(w.creations().size(), 12u);
  EXPECT_LT(w.creations().size(), 20u);
  for (size_t i = 10; i < w.creations().size(); ++i) {
    EXPECT_EQ(AccountedBy(w, w.creations()[i].at), static_cast<int>(i)) << i;
  }
}

// Starts `w` on 30 nodes with CachedImage web under PullPolicy fast (`max_concurrent`, backoff
// 1 s), from a registry that fails the first `failures` pulls, then serves the image (5 s a pull).
void StartWithARegistryThatHeals(World& w, int max_concurrent, int failures) {
  AddNodes(w, 30);
  w.PutPolicy(PolicyBuilder("fast", max_concurrent).Backoff(kSec, kSec, 1, 100));
  w.PutImage(ImageBuilder("web", "web:1").Policy("fast"));
  w.SetBehaviour([failures, tries = 0](const v1::Pod&) mutable {
    return ++tries <= failures ? Pull{Pull::kExitFailure, kSec} : Takes(5 * kSec);
  });
  w.Start();
}

TEST(Pacing, AFailingImageGoesBackToFullPaceWhenAPullSucceeds) {
  World w;
  StartWithARegistryThatHeals(w, /*max_concurrent=*/10, /*failures=*/12);
  ASSERT_TRUE(w.RunUntil(
      [&] { return !testing::Outcomes(w.journal(), v1::PULL_SUCCEEDED).empty(); }, 120 * kSec));
  int64_t healed = testing::Outcomes(w.journal(), v1::PULL_SUCCEEDED)[0].time_ms();
  // The probe's success resets the failures: the policy's 10 start in the same pass.
  EXPECT_EQ(CreatedBy(w, healed) - CreatedBy(w, healed - 1), 10);
  ASSERT_TRUE(w.RunUntil([&] { return w.Image("web").status().phase() == "Ready"; }, 60 * kSec));
}

// The success that ends a streak of failures takes the streak's time with it: the waits decided
// after it cite no last failure, as an image that never failed.
TEST(Pacing, ASuccessClearsTheLastFailureTheWaitsAfterItCite) {
  World w;
  StartWithARegistryThatHeals(w, /*max_concurrent=*/3, /*failures=*/2);
  ASSERT_TRUE(w.RunUntil([&] { return w.Image("web").status().phase() == "Ready"; }, 300 * kSec));
  uint64_t healed = testing::Outcomes(w.journal(), v1::PULL_SUCCEEDED).at(0).seq();
  int before = 0, after = 0;
  for (const v1::Entry& e : w.journal()) {
    if (!e.has_pacing()) continue;
    if (e.seq() < healed) {
      before += e.pacing().last_failure_ms() > 0;
    } else if (e.pacing().verdict() == v1::WAIT_CONCURRENCY) {
      ++after;
      EXPECT_EQ(e.pacing().last_failure_ms(), 0) << "entry " << e.seq();
    }
  }
  EXPECT_GT(before, 0) << "no wait cited the failures while they lasted";
  EXPECT_GT(after, 0);
  EXPECT_EQ(Find(w.state().images(), "web")->last_failure_ms(), 0);
}

TEST(Pacing, EveryImagePullErrorReasonIsExcludedFromActive) {
  for (const char* reason :
       {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}) {
    v1::PodRecord r;
    r.mutable_pod()->set_phase(v1::POD_PENDING);
    r.mutable_pod()->set_waiting_reason(reason);
    EXPECT_FALSE(IsActive(r)) << reason;
  }
  v1::PodRecord pulling;
  pulling.mutable_pod()->set_phase(v1::POD_PENDING);
  pulling.mutable_pod()->set_waiting_reason("ContainerCreating");
  EXPECT_TRUE(IsActive(pulling));
  v1::PodRecord issued;  // created by drop, not yet seen by the watch
  EXPECT_TRUE(IsActive(issued));
  v1::PodRecord done;
  done.mutable_pod()->set_phase(v1::POD_SUCCEEDED);
  EXPECT_FALSE(IsActive(done));
}

TEST(Pacing, MinDelaySpacesCreationsUnderAPolicy) {
  World w;
  AddNodes(w, 3);
  w.PutPolicy(PolicyBuilder("slow", /*max_concurrent=*/10, /*min_delay_ms=*/30 * kSec));
  w.PutImage(ImageBuilder("web", "web:1").Policy("slow"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(kSec); });
  w.Start();
  w.RunFor(5 * kSec);
  ASSERT_EQ(w.creations().size(), 1u);
  std::vector<v1::PacingDecision> waits = Decisions(w.journal(), v1::WAIT_MIN_DELAY);
  ASSERT_FALSE(waits.empty());
  EXPECT_EQ(waits[0].not_before_ms(), w.creations()[0].at + 30 * kSec);
  EXPECT_EQ(waits[0].min_delay_ms(), 30 * kSec);
  EXPECT_EQ(waits[0].last_creation_ms(), w.creations()[0].at);
  w.RunFor(120 * kSec);
  ASSERT_EQ(w.creations().size(), 3u);
  EXPECT_EQ(w.creations()[1].at - w.creations()[0].at, 30 * kSec);  // woken by its requeue
  EXPECT_EQ(w.creations()[2].at - w.creations()[1].at, 30 * kSec);
}

TEST(Pacing, BackoffGrowsByFactorAndIsCappedAtMaxDelay) {
  World w;
  AddNodes(w, 12);
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(10 * kSec, 100 * kSec, 2, 100));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kExitFailure, kSec}; });
  w.Start();
  w.RunFor(1000 * kSec);
  std::vector<v1::Entry> failures = testing::Outcomes(w.journal(), v1::PULL_FAILED);
  ASSERT_GE(failures.size(), 7u);
  // After the n-th consecutive failure the next pull waits min(10s * 2^(n-1), 100s).
  const int64_t expected[] = {10, 20, 40, 80, 100, 100};
  for (int n = 1; n <= 6; ++n) {
    EXPECT_EQ(w.creations()[n].at - failures[n - 1].time_ms(), expected[n - 1] * kSec) << n;
  }
  std::vector<v1::PacingDecision> waits = Decisions(w.journal(), v1::WAIT_BACKOFF);
  ASSERT_FALSE(waits.empty());
  EXPECT_EQ(waits[0].consecutive_failures(), 1);
  EXPECT_EQ(waits[0].backoff_delay_ms(), 10 * kSec);
  EXPECT_EQ(waits[0].not_before_ms(), waits[0].last_failure_ms() + 10 * kSec);
}

TEST(Pacing, BackoffDelayFormula) {
  v1::Backoff b;
  b.set_initial_delay_ms(10'000);
  b.set_max_delay_ms(600'000);
  b.set_factor(2);
  EXPECT_EQ(BackoffDelay(b, 0), 0);
  EXPECT_EQ(BackoffDelay(b, 1), 10'000);
  EXPECT_EQ(BackoffDelay(b, 2), 20'000);
  EXPECT_EQ(BackoffDelay(b, 6), 320'000);
  EXPECT_EQ(BackoffDelay(b, 7), 600'000);
  EXPECT_EQ(BackoffDelay(b, 500), 600'000);  // no overflow
}

TEST(Pacing, TwoCachedImagesShareOnePolicysBudget) {
  World w;
  AddNodes(w, 4);
  w.PutPolicy(PolicyBuilder("shared", /*max_concurrent=*/2));
  w.PutImage(ImageBuilder("a", "a:1").Policy("shared"));
  w.PutImage(ImageBuilder("b", "b:1").Policy("shared"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(10 * kSec); });
  w.Start();
  w.RunFor(5 * kSec);
  ASSERT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(Pending(w), 2);
  std::set<std::string> images{w.creations()[0].image, w.creations()[1].image};
  EXPECT_EQ(images, (std::set<std::string>{"a", "b"}));
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.creations().size(), 8u);
}

TEST(Pacing, CachedImagesTakeTurnsByLeastRecentStart) {
  World w;
  AddNodes(w, 2);
  w.PutPolicy(PolicyBuilder("p", 1));
  for (const char* name : {"c", "a", "b"})
    w.PutImage(ImageBuilder(name, std::string(name) + ":1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(kSec); });
  w.Start();
  w.RunFor(60 * kSec);
  EXPECT_EQ(ImagesInCreationOrder(w), "abcabc");
}

// Lanes that start in one pass tie on their last start, and a tie keeps the order the lanes
// had. With room for four pulls, a starts and goes to the back (b, c, a); b goes behind c but
// stays ahead of a, which it ties (c, b, a); c ties both and stays first, so it starts again.
TEST(Pacing, LanesThatStartInOnePassKeepTheirOrder) {
  World w;
  AddNodes(w, 3);
  w.PutPolicy(PolicyBuilder("p", 4));
  for (const char* name : {"a", "b", "c"})
    w.PutImage(ImageBuilder(name, std::string(name) + ":1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(10 * kSec); });
  w.Start();
  w.RunFor(5 * kSec);
  EXPECT_EQ(ImagesInCreationOrder(w), "abcc");
}

TEST(Pacing, NodesArePulledInNameOrder) {
  World w;
  for (const char* n : {"node-c", "node-a", "node-b"})
    w.PutNode(NodeBuilder(n));
  w.PutPolicy(PolicyBuilder("p", 1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(kSec); });
  w.Start();
  w.RunFor(60 * kSec);
  ASSERT_EQ(w.creations().size(), 3u);
  EXPECT_EQ(w.creations()[0].node, "node-a");
  EXPECT_EQ(w.creations()[1].node, "node-b");
  EXPECT_EQ(w.creations()[2].node, "node-c");
}

TEST(Pacing, ANodeThatFailedIsRetriedAfterTheOthers) {
  World w;
  AddNodes(w, 4);
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(kSec, kSec, 1, 10));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  int node0_tries = 0;
  w.SetBehaviour([&](const v1::Pod& pod) {
    if (pod.node() == "node-0" && node0_tries++ == 0) return Pull{Pull::kExitFailure, kSec};
    return Takes(kSec);
  });
  w.Start();
  w.RunFor(120 * kSec);
  std::vector<std::string> nodes;
  for (const auto& c : w.creations())
    nodes.push_back(c.node);
  EXPECT_EQ(nodes, (std::vector<std::string>{"node-0", "node-1", "node-2", "node-3", "node-0"}));
  // The failed pod made way for the retry (same name: it is a function of node and generation).
  EXPECT_EQ(testing::Deletes(w.journal(), "Retry").size(), 1u);
  EXPECT_EQ(w.Image("web").status().phase(), "Ready");
}

TEST(Pacing, NoEligibleNodeWhenEveryNodeLackingTheImageHasItsPod) {
  World w;
  AddNodes(w, 2);
  w.PutPolicy(PolicyBuilder("p", 5));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(30 * kSec); });
  w.Start();
  w.RunFor(5 * kSec);
  EXPECT_EQ(w.creations().size(), 2u);
  EXPECT_FALSE(Decisions(w.journal(), v1::NO_ELIGIBLE_NODE).empty());
  EXPECT_TRUE(Decisions(w.journal(), v1::WAIT_CONCURRENCY).empty());
}

TEST(Pacing, APodNotFinishedByPullTimeoutIsDeletedAndCountsAsAFailure) {
  World w;
  AddNodes(w, 1);
  w.PutPolicy(PolicyBuilder("p", 1).Timeout(60 * kSec));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kHang, 0}; });
  w.Start();
  w.RunFor(59 * kSec);
  EXPECT_TRUE(testing::Outcomes(w.journal(), v1::PULL_FAILED).empty());
  w.RunFor(2 * kSec);
  std::vector<v1::Entry> failed = testing::Outcomes(w.journal(), v1::PULL_FAILED);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].outcome().reason(), "PullTimeout");
  EXPECT_EQ(failed[0].time_ms() - w.creations()[0].at, 60 * kSec);
  EXPECT_EQ(testing::Deletes(w.journal(), "PullTimeout").size(), 1u);
  EXPECT_TRUE(w.pods().empty());
  EXPECT_EQ(w.Image("web").status().consecutive_failures(), 1);
}

// The entry in which drop, back at `at`, sees `pod`: LISTED by its relist, or MODIFIED by a watch.
v1::Entry Seen(const v1::State& state, const v1::Pod& pod, int64_t at, v1::EventType type) {
  v1::Entry e;
  e.set_seq(state.last_seq() + 1);
  e.set_time_ms(at);
  e.mutable_watch()->set_type(type);
  *e.mutable_watch()->mutable_pod() = pod;
  return e;
}

// Starts `w`, whose pulls hang, for a second: the pod of its one pull, and when drop issued it.
void StartOneHangingPull(World& w, v1::Pod* pod, int64_t* issued) {
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kHang, 0}; });
  w.Start();
  w.RunFor(kSec);
  ASSERT_EQ(w.pods().size(), 1u);
  *pod = w.pods().begin()->second;
  *issued = w.creations()[0].at;
}

// A pull that ended while drop was down is found ended by the relist when drop starts again: it
// is timed to the kubelet's finishedAt, not to the relist, which would add the time drop was away.
TEST(Pacing, APullThatEndedWhileDropWasAwayIsTimedToTheKubeletsFinish) {
  World w;
  AddNodes(w, 1);
  w.PutImage(ImageBuilder("web", "web:1"));
  v1::Pod ended;
  int64_t issued = 0;
  ASSERT_NO_FATAL_FAILURE(StartOneHangingPull(w, &ended, &issued));
  ended.set_phase(v1::POD_SUCCEEDED);
  ended.set_finish_time_ms(issued + 10 * kSec);
  auto account = [&](v1::EventType type) {
    v1::State state = w.state();
    v1::Entry seen = Seen(state, ended, issued + 40 * kSec, type);  // away from +2s to +40s
    Apply(seen, &state);
    std::vector<v1::Entry> out = AccountPulls(state, "web", seen.time_ms());
    return out.empty() ? -1 : out[0].outcome().duration_ms();
  };
  EXPECT_EQ(account(v1::LISTED), 10 * kSec);
  // Seen by the watch as it happens, drop's own clock times it, to the millisecond.
  EXPECT_EQ(account(v1::MODIFIED), 40 * kSec);
}

TEST(Pacing, AFailureWhileDropWasAwayIsDatedToTheKubeletsFinish) {
  World w;
  AddNodes(w, 2);
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(30 * kSec, 30 * kSec, 1, 10));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  v1::Pod ended;
  int64_t issued = 0;
  ASSERT_NO_FATAL_FAILURE(StartOneHangingPull(w, &ended, &issued));
  ended.set_phase(v1::POD_FAILED);
  ended.set_terminated_reason("Error");
  ended.set_exit_code(1);
  ended.set_finish_time_ms(issued + 10 * kSec);
  v1::State state = w.state();
  v1::Entry seen = Seen(state, ended, issued + 40 * kSec, v1::LISTED);  // away from +2s to +40s
  Apply(seen, &state);
  for (v1::Entry& d : AccountPulls(state, "web", seen.time_ms())) {
    d.set_seq(state.last_seq() + 1);
    d.set_time_ms(seen.time_ms());
    Apply(d, &state);
  }
  const v1::ImageRecord& web = state.images(0);
  EXPECT_EQ(web.consecutive_failures(), 1);
  EXPECT_EQ(web.last_failure_ms(), issued + 10 * kSec);
  ASSERT_EQ(web.failures_size(), 1);
  EXPECT_EQ(web.failures(0).last_failure_time_ms(), issued + 10 * kSec);
  // The 30 s backoff ran out while drop was away: the next node may start now.
  EXPECT_EQ(BackoffUntil(FindPolicySpec(state, "p")->backoff(), web), issued + 40 * kSec);
}

// maxConcurrentNodes holds across all CachedImages using the policy: one moved to another policy
// mid-rollout takes its pulls under way along, so the new policy counts them and the old one
// does not wait on them.
TEST(Pacing, ACachedImageMovedToAnotherPolicyTakesItsActivePodsAlong) {
  World w;
  AddNodes(w, 8);
  w.PutPolicy(PolicyBuilder("wide", 4));
  w.PutPolicy(PolicyBuilder("narrow", 2));
  w.PutImage(ImageBuilder("moved", "moved:1").Policy("wide"));
  w.SetBehaviour(
      [](const v1::Pod& pod) { return Takes(pod.cached_image() == "moved" ? 20 * kSec : kSec); });
  w.Start();
  w.RunFor(kSec);
  ASSERT_EQ(Pending(w), 4);
  ImageBuilder narrower("moved", "moved:1");
  narrower.Policy("narrow");
  w.PutImage(narrower);
  w.PutImage(ImageBuilder("stays", "stays:1").Policy("wide"));
  w.RunFor(5 * kSec);
  int moved = 0, stays = 0;
  for (const auto& c : w.creations()) {
    moved += c.image == "moved";
    stays += c.image == "stays";
  }
  // narrow has 4 of moved's pods against its 2: none more until two end; wide is free for stays.
  EXPECT_EQ(moved, 4);
  EXPECT_EQ(stays, 8);
  EXPECT_EQ(w.state().policies_size(), 2);
  EXPECT_EQ(CountActive(w.state(), "narrow"), 4);
  EXPECT_EQ(CountActive(w.state(), "wide"), 0);
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.Image("moved").status().phase(), "Ready");
}

// A relist can list a CachedImage's pods before it: they count against its policy once it comes.
TEST(Pacing, PodsRecordedBeforeTheirCachedImageCountAgainstItsPolicy) {
  v1::State state = InitialState();
  Index index(state);
  v1::Entry pod;
  pod.set_seq(1);
  pod.mutable_watch()->set_type(v1::LISTED);
  v1::Pod* p = pod.mutable_watch()->mutable_pod();
  p->set_name("drop-web-a");
  p->set_uid("uid-a");
  p->set_cached_image("web");
  p->set_node("node-0");
  p->set_phase(v1::POD_RUNNING);
  Apply(pod, &state, &index);
  EXPECT_EQ(index.Active(""), 1);
  v1::Entry image;
  image.set_seq(2);
  image.mutable_watch()->set_type(v1::LISTED);
  *image.mutable_watch()->mutable_cached_image() = ImageBuilder("web", "web:1").Policy("p");
  Apply(image, &state, &index);
  EXPECT_EQ(CountActive(state, "p"), 1);
  EXPECT_EQ(index.Active("p"), 1);
  EXPECT_EQ(index.Active(""), 0);
  EXPECT_EQ(index.Differences(state), "");
}

TEST(Pacing, ImagePullBackOffReportedTwiceCountsAsAFailure) {
  World w;
  AddNodes(w, 1);
  w.PutPolicy(PolicyBuilder("p", 1));
  w.PutImage(ImageBuilder("web", "web:broken").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kNotFound, 0}; });
  w.Start();
  // ErrImagePull at 0.5 s, ImagePullBackOff at 0.6 s, ErrImagePull at 10.6 s, BackOff at 10.7 s.
  w.RunFor(10 * kSec);
  EXPECT_TRUE(testing::Outcomes(w.journal(), v1::PULL_FAILED).empty());
  w.RunFor(2 * kSec);
  std::vector<v1::Entry> failed = testing::Outcomes(w.journal(), v1::PULL_FAILED);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].outcome().reason(), "ImagePullBackOff");
  EXPECT_EQ(failed[0].outcome().message(), "manifest unknown");
  EXPECT_EQ(testing::Deletes(w.journal(), "ImagePullBackOff").size(), 1u);
}

TEST(Pacing, FinishedPodsAreDeletedWhenTheirTTLExpires) {
  World w;
  AddNodes(w, 1);
  w.PutPolicy(PolicyBuilder("p", 1).Ttl(60 * kSec));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(2 * kSec); });
  w.Start();
  w.RunFor(61 * kSec);
  EXPECT_EQ(w.pods().size(), 1u);  // Succeeded at ~2 s, kept for `kubectl describe`
  EXPECT_EQ(w.pods().begin()->second.phase(), v1::POD_SUCCEEDED);
  w.RunFor(2 * kSec);
  EXPECT_TRUE(w.pods().empty());
  ASSERT_EQ(testing::Deletes(w.journal(), "TTLExpired").size(), 1u);
  EXPECT_EQ(testing::Deletes(w.journal(), "TTLExpired")[0].time_ms() - w.creations()[0].at,
            62 * kSec);
}

TEST(Pacing, StartDecisionNamesTheNodeAndPodAndIsFollowedByTheCreate) {
  World w;
  AddNodes(w, 1);
  w.PutImage(ImageBuilder("web", "web:1"));  // the built-in default policy
  w.Start();
  const auto& j = w.journal();
  auto it = std::find_if(j.begin(), j.end(), [](const v1::Entry& e) {
    return e.has_pacing() && e.pacing().verdict() == v1::START;
  });
  ASSERT_NE(it, j.end());
  EXPECT_EQ(it->pacing().node(), "node-0");
  EXPECT_EQ(it->pacing().policy(), "");
  EXPECT_EQ(it->pacing().limit(), 5);
  EXPECT_EQ(it->pacing().min_delay_ms(), 10 * kSec);
  ASSERT_TRUE((it + 1)->has_action() && (it + 1)->action().has_create_pod());
  EXPECT_EQ((it + 1)->action().create_pod().pod().name(), it->pacing().pod());
  EXPECT_EQ((it + 1)->reconcile_id(), it->reconcile_id());
}

TEST(Pacing, AWaitIsRecordedOnceUntilItsInputsChange) {
  World w;
  AddNodes(w, 3);
  w.PutPolicy(PolicyBuilder("one", /*max_concurrent=*/1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("one"));
  w.SetBehaviour([](const v1::Pod&) { return Takes(60 * kSec); });
  w.Start();
  w.RunFor(2 * kSec);
  ASSERT_EQ(w.creations().size(), 1u);
  size_t waits = Decisions(w.journal(), v1::WAIT_CONCURRENCY).size();
  ASSERT_EQ(waits, 1u);
  // Label changes on a node re-run the pacing pass; its verdict and inputs are the same, so the
  // journal gains no wait.
  for (int i = 0; i < 5; ++i) {
    w.PutNode(NodeBuilder("node-2").Labels({{"round", std::to_string(i)}}));
    w.RunFor(kSec);
  }
  EXPECT_EQ(Decisions(w.journal(), v1::WAIT_CONCURRENCY).size(), waits);
  // The first pull ends and the next starts: the policy is blocked again, a new wait.
  w.RunFor(60 * kSec);
  ASSERT_EQ(w.creations().size(), 2u);
  EXPECT_EQ(Decisions(w.journal(), v1::WAIT_CONCURRENCY).size(), waits + 1);
}

}  // namespace
}  // namespace drop
