// Properties over random histories (tests/support/random_world.h), with and without its faults
// (operator restarts, pods gone or replaced unseen, lost answers): the fold is a function of the
// journal however it is cut by snapshots, reconcile is deterministic to the byte, and no history
// ever breaks a policy's limits.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/fold.h"
#include "core/image_view.h"
#include "core/index.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "core/step.h"
#include "core/validation.h"
#include "tests/support/random_world.h"

namespace drop {
namespace {

using testing::RandomWorld;

constexpr uint64_t kSeeds = 12;
// Seeds above this one run their history with RandomWorld's faults.
constexpr uint64_t kFaultSeeds = 100;
constexpr int kSteps = 300;

std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

// Equal serialized bytes; on failure, which fields differ.
::testing::AssertionResult SameBytes(const google::protobuf::Message& a,
                                     const google::protobuf::Message& b) {
  if (Bytes(a) == Bytes(b)) return ::testing::AssertionSuccess();
  google::protobuf::util::MessageDifferencer diff;
  std::string report;
  diff.ReportDifferencesToString(&report);
  diff.Compare(a, b);
  if (report.size() > 2000) report = report.substr(0, 2000) + "...";
  return ::testing::AssertionFailure() << "bytes differ:\n" << report;
}

v1::State FoldAll(const std::vector<v1::Entry>& journal, size_t from, v1::State state) {
  for (size_t i = from; i < journal.size(); ++i)
    Apply(journal[i], &state);
  return state;
}

class Property : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    random.faults = GetParam() > kFaultSeeds;
    for (int i = 0; i < kSteps; ++i)
      random.Step();
    ASSERT_GT(random.world.journal().size(), 1000u) << "the history is too short to say much";
  }
  RandomWorld random{GetParam()};
};

TEST_P(Property, FoldingFromScratchEqualsTheLiveState) {
  const auto& journal = random.world.journal();
  EXPECT_TRUE(SameBytes(FoldAll(journal, 0, InitialState()), random.world.state()));
}

// Equal states serialize to equal bytes only if the pods' grouping is a function of the pods: a
// group per CachedImage that has pods, in name order, each sorted by key and holding its own.
TEST_P(Property, EveryCachedImagesPodsAreOneSortedGroupAndNoGroupIsEmpty) {
  const auto& journal = random.world.journal();
  v1::State state = InitialState();
  int most_groups = 0;
  for (size_t i = 0; i < journal.size(); ++i) {
    Apply(journal[i], &state);
    const auto& groups = state.pod_groups();
    most_groups = std::max(most_groups, groups.size());
    for (int g = 0; g < groups.size(); ++g) {
      const v1::PodGroup& group = groups[g];
      ASSERT_FALSE(group.pods().empty()) << group.cached_image() << " after entry " << i + 1;
      ASSERT_TRUE(g == 0 || groups[g - 1].cached_image() < group.cached_image())
          << "after entry " << i + 1;
      for (int p = 0; p < group.pods_size(); ++p) {
        const v1::PodRecord& r = group.pods(p);
        ASSERT_EQ(r.key(), PodKey(r.pod())) << "after entry " << i + 1;
        ASSERT_EQ(r.pod().cached_image(), group.cached_image()) << "after entry " << i + 1;
        ASSERT_TRUE(p == 0 || group.pods(p - 1).key() < r.key()) << "after entry " << i + 1;
      }
    }
  }
  EXPECT_GT(most_groups, 1) << "the history never had pods of two CachedImages at once";
}

TEST_P(Property, FoldingFromASnapshotTakenMidwayEqualsFoldingFromScratch) {
  const auto& journal = random.world.journal();
  v1::State full = FoldAll(journal, 0, InitialState());
  for (size_t cut :
       {journal.size() / 7, journal.size() / 3, journal.size() / 2, journal.size() - 1}) {
    v1::State snapshot =
        FoldAll(std::vector<v1::Entry>(journal.begin(), journal.begin() + cut), 0, InitialState());
    v1::State parsed;
    ASSERT_TRUE(parsed.ParseFromString(Bytes(snapshot)));
    EXPECT_EQ(Bytes(parsed), Bytes(snapshot)) << "a snapshot must round-trip exactly";
    EXPECT_TRUE(SameBytes(FoldAll(journal, cut, parsed), full)) << "cut at " << cut;
  }
}

TEST_P(Property, RecomputingEveryDecisionFromTheInputsGivesTheRecordedBytes) {
  const auto& journal = random.world.journal();
  v1::State state = InitialState();
  size_t i = 0, inputs = 0;
  while (i < journal.size()) {
    ASSERT_FALSE(IsDecision(journal[i])) << "seq " << journal[i].seq();
    std::vector<v1::Entry> decided = Step(journal[i], &state);
    ++inputs;
    v1::Entry scratch;
    for (const v1::Entry& d : decided) {
      ++i;
      ASSERT_LT(i, journal.size());
      ASSERT_TRUE(SameBytes(JournalForm(d, &scratch), journal[i]))
          << "diverges at seq " << journal[i].seq();
    }
    ++i;
  }
  EXPECT_GT(inputs, 500u);
}

// Verify asks Step for the journal's form of its decisions: a status write carries its nodes'
// digest, never the list. Those are the recorded bytes as they are, with an Index and without.
TEST_P(Property, DecisionsInTheJournalFormAreTheRecordedBytes) {
  const auto& journal = random.world.journal();
  v1::State walked = InitialState(), indexed = InitialState();
  Index index(indexed);
  int listing = 0;  // status writes that list a node: the ones the form changes
  for (size_t i = 0; i < journal.size(); ++i) {
    std::vector<v1::Entry> by_walk = Step(journal[i], &walked, nullptr, DecisionForm::kJournal);
    std::vector<v1::Entry> by_index = Step(journal[i], &indexed, &index, DecisionForm::kJournal);
    ASSERT_EQ(by_walk.size(), by_index.size()) << "after seq " << journal[i].seq();
    for (size_t d = 0; d < by_walk.size(); ++d) {
      ++i;
      ASSERT_LT(i, journal.size());
      ASSERT_TRUE(SameBytes(by_walk[d], journal[i])) << "diverges at seq " << journal[i].seq();
      ASSERT_TRUE(SameBytes(by_index[d], journal[i])) << "diverges at seq " << journal[i].seq();
      const v1::Entry& e = journal[i];
      listing += e.has_action() && e.action().has_patch_status() &&
                 e.action().patch_status().status().nodes_ready() > 0;
    }
  }
  EXPECT_GT(listing, 0);
  EXPECT_TRUE(SameBytes(walked, random.world.state()));
  EXPECT_TRUE(SameBytes(indexed, random.world.state()));
}

// The loop that recorded the history stepped through an Index. Stepping without one walks every
// node and pod instead: the same bytes (above). Stepping with one keeps it equal, after every
// input, to an index built afresh from the state.
TEST_P(Property, AnIndexKeptThroughEveryStepEqualsOneBuiltFromTheState) {
  const auto& journal = random.world.journal();
  v1::State state = InitialState();
  Index index(state);
  v1::Entry scratch;
  for (size_t i = 0; i < journal.size(); ++i) {
    std::vector<v1::Entry> decided = Step(journal[i], &state, &index);
    for (const v1::Entry& d : decided) {
      ++i;
      ASSERT_LT(i, journal.size());
      ASSERT_TRUE(SameBytes(JournalForm(d, &scratch), journal[i]))
          << "diverges at seq " << journal[i].seq();
    }
    ASSERT_EQ(index.Differences(state), "") << "after seq " << journal[i].seq();
  }
}

// A pod update that leaves its policy out of the reconciles it triggers (TouchedKeys: the pod was
// and stays active) would not have started a pull there: a pacing pass run anyway starts nothing,
// unless a requeue of the policy is already due, and its timer runs that pass.
TEST_P(Property, APodUpdateThatDoesNotPaceItsPolicyWouldStartNothing) {
  const auto& journal = random.world.journal();
  v1::State state = InitialState();
  int skipped = 0;
  for (size_t i = 0; i < journal.size(); ++i) {
    const v1::Entry& input = journal[i];
    std::string policy;
    bool skips = false;
    if (input.has_watch() && input.watch().has_pod() && Synced(state)) {
      if (const v1::PodRecord* r =
              FindPod(state, input.watch().pod().cached_image(), PodKey(input.watch().pod()))) {
        policy = r->policy();
        std::vector<v1::Key> keys = TouchedKeys(state, input);
        skips = std::none_of(keys.begin(), keys.end(), [&](const v1::Key& k) {
          return k.kind() == v1::KIND_PULL_POLICY && k.name() == policy;
        });
      }
    }
    i += Step(input, &state).size();
    if (!skips) continue;
    ++skipped;
    const int64_t now = input.time_ms();
    const v1::Requeue* due = FindRequeue(state, MakeKey(v1::KIND_PULL_POLICY, policy));
    if (due != nullptr && due->at_ms() <= now) continue;
    for (const v1::Entry& d : PacePolicy(state, policy, now)) {
      EXPECT_FALSE(d.has_pacing() && d.pacing().verdict() == v1::START)
          << "after seq " << input.seq() << ", a pass would start " << d.pacing().pod();
    }
  }
  EXPECT_GT(skipped, 20) << "the history has too few pod updates that stay active";
}

TEST_P(Property, ReconcileOnEqualStateAndTimeGivesByteIdenticalDecisions) {
  const auto& journal = random.world.journal();
  for (size_t cut : {journal.size() / 4, journal.size() / 2, journal.size()}) {
    v1::State a =
        FoldAll(std::vector<v1::Entry>(journal.begin(), journal.begin() + cut), 0, InitialState());
    v1::State b;
    ASSERT_TRUE(b.ParseFromString(Bytes(a)));
    int64_t now = a.last_time_ms() + 1234;
    for (const v1::ImageRecord& r : a.images()) {
      const std::string& name = r.object().name();
      auto x = ReconcileImage(a, name, now), y = ReconcileImage(b, name, now);
      ASSERT_EQ(x.size(), y.size());
      for (size_t k = 0; k < x.size(); ++k)
        EXPECT_TRUE(SameBytes(x[k], y[k]));
      auto p = AccountPulls(a, name, now), q = AccountPulls(b, name, now);
      ASSERT_EQ(p.size(), q.size());
      for (size_t k = 0; k < p.size(); ++k)
        EXPECT_TRUE(SameBytes(p[k], q[k]));
    }
    for (const char* policy : {"", "policy-0", "policy-1"}) {
      auto x = PacePolicy(a, policy, now), y = PacePolicy(b, policy, now);
      ASSERT_EQ(x.size(), y.size());
      for (size_t k = 0; k < x.size(); ++k)
        EXPECT_TRUE(SameBytes(x[k], y[k]));
    }
  }
}

// Rule 1 as the test reads it, independently of the core's CountActive.
int ActiveUnder(const v1::State& state, const std::string& policy) {
  int n = 0;
  for (const v1::PodRecord& r : AllPods(state)) {
    if (r.policy() != policy || !r.create_error().empty()) continue;
    v1::PodPhase phase = r.pod().phase();
    const std::string& why = r.pod().waiting_reason();
    bool pull_error = why == "ErrImagePull" || why == "ImagePullBackOff" ||
                      why == "InvalidImageName" || why == "ErrImageNeverPull";
    if ((phase == v1::POD_PHASE_UNKNOWN || phase == v1::POD_PENDING || phase == v1::POD_RUNNING) &&
        !pull_error) {
      ++n;
    }
  }
  return n;
}

TEST_P(Property, NoHistoryBreaksAPolicysLimits) {
  const auto& journal = random.world.journal();
  v1::State state = InitialState();
  std::map<std::string, int64_t> last_creation;
  int creations = 0;
  for (const v1::Entry& e : journal) {
    if (e.has_action() && e.action().has_create_pod()) {
      ++creations;
      const std::string& policy = e.action().create_pod().policy();
      const v1::PullPolicySpec* spec = FindPolicySpec(state, policy);
      ASSERT_NE(spec, nullptr) << "created under a policy that does not exist, seq " << e.seq();
      EXPECT_LT(ActiveUnder(state, policy), spec->max_concurrent_nodes()) << "seq " << e.seq();
      if (last_creation.count(policy) > 0) {
        EXPECT_GE(e.time_ms() - last_creation[policy], spec->min_delay_between_pulls_ms())
            << "seq " << e.seq();
      }
      last_creation[policy] = e.time_ms();
    }
    Apply(e, &state);
  }
  EXPECT_GT(creations, 20);
  EXPECT_EQ(random.world.double_pods(), 0) << "a node had two drop pods of one CachedImage";
}

// Once the faults end (the watches catch up), every pull succeeds and the PullPolicies and
// CachedImages are mended, drop finishes what it was asked, whatever the history left behind:
// every CachedImage comes to be held by every node it targets, its status as written says so,
// and no drop pod is left on the cluster once its TTL has passed.
TEST_P(Property, OnceTheFaultsEndAndTheObjectsAreMendedEveryImageIsHeldWhereverTargeted) {
  random.faults = false;
  testing::World& world = random.world;
  world.Relist();  // the watches catch up with what went unseen
  world.SetBehaviour([](const v1::Pod&) { return testing::Pull{testing::Pull::kSucceed, 300}; });
  for (int i = 0; i < random.policy_count; ++i)
    world.PutPolicy(testing::PolicyBuilder("policy-" + std::to_string(i), 2, 0).Ttl(10'000));
  // And the CachedImages drop cannot act on are mended: a valid reference, a policy that exists.
  for (int i = 0; i < random.image_count; ++i) {
    const std::string name = "img-" + std::to_string(i);
    auto it = world.images().find(name);
    if (it != world.images().end() && ValidateCachedImage(it->second).empty() &&
        it->second.spec().pull_policy_ref() != "missing") {
      continue;
    }
    world.PutImage(testing::ImageBuilder(name, name + ":1").Policy("policy-0"));
  }
  world.RunFor(2 * 3600 * 1000);
  const v1::State& state = world.state();
  int pullable = 0, targeted = 0;
  for (const v1::ImageRecord& r : state.images()) {
    ImageView view(state, r);
    const std::string& name = r.object().name();
    if (!view.spec_error().empty() || view.policy() == nullptr) continue;
    ++pullable;
    const v1::CachedImageStatus& written = world.Image(name).status();
    EXPECT_EQ(written.nodes_ready(), written.nodes_targeted())
        << "cachedimage/" << name << " stands " << written.phase() << " " << written.nodes_ready()
        << "/" << written.nodes_targeted() << " after two quiet hours";
    v1::CachedImageStatus desired = DesiredStatus(state, view, world.now());
    EXPECT_EQ(desired.nodes_ready(), written.nodes_ready()) << "cachedimage/" << name;
    EXPECT_EQ(desired.nodes_targeted(), written.nodes_targeted()) << "cachedimage/" << name;
    EXPECT_EQ(desired.phase(), written.phase()) << "cachedimage/" << name;
    targeted += written.nodes_targeted();
    // What drop counts as pulled, the kubelet holds: a drop pod of the image succeeded there.
    view.ForEachNode([&](const NodeFacts& f) {
      EXPECT_TRUE(!f.pulled || world.PulledOn(f.node->name(), r.object().spec().image()))
          << "cachedimage/" << name << " counts " << f.node->name()
          << " pulled, where no pod of it succeeded";
      return true;
    });
  }
  EXPECT_GT(targeted, 0) << "no node is targeted: the history checks nothing";
  EXPECT_EQ(pullable, random.image_count) << "a CachedImage drop cannot act on is left";
  for (const auto& [pod, object] : world.pods()) {
    ADD_FAILURE() << "pod " << pod << " of cachedimage/" << object.cached_image() << " on "
                  << object.node() << " is left, phase " << v1::PodPhase_Name(object.phase());
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, Property, ::testing::Range<uint64_t>(1, kSeeds + 1));
INSTANTIATE_TEST_SUITE_P(SeedsWithFaults, Property,
                         ::testing::Range<uint64_t>(kFaultSeeds + 1, kFaultSeeds + kSeeds + 1));

}  // namespace
}  // namespace drop
