// drop-replay as a command: info, log, state, diff, export on a recorded journal; bad input gives
// exit code 2 and a message that says what to do; no command writes to the journal; a live
// journal (its writer running) is read beside the writer.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <regex>

#include "core/build.h"
#include "core/duration.h"
#include "core/schema.h"
#include "journal/format.h"
#include "replay/table.h"
#include "tests/replay/recorded.h"
#include "tests/replay/tool.h"

namespace drop::replay {
namespace {

using testing::ImageBuilder;
using testing::NodeBuilder;
using testing::PolicyBuilder;
using testing::Pull;
using testing::Replay;
using testing::TempDir;
using testing::World;

constexpr int64_t kSec = 1000;

// A small rollout, kept with the World so tests can compare with what its API server holds.
struct Recorded {
  TempDir dir;
  World world;
  std::string journal = dir / "j";
  Recorded() {
    for (int i = 0; i < 6; ++i)
      world.PutNode(NodeBuilder("node-" + std::to_string(i)).Labels({{"pool", i < 4 ? "a" : "b"}}));
    world.PutPolicy(PolicyBuilder("gentle", 2, 2 * kSec));
    world.PutImage(ImageBuilder("web", "registry.example.com/web:1").Policy("gentle"));
    world.PutImage(ImageBuilder("db", "registry.example.com/db:2").Selector({{"pool", "b"}}));
    world.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 3 * kSec}; });
    world.Start();
    world.RunFor(120 * kSec);
    testing::WriteOptions o;
    o.snapshot_every_entries = 200;
    Status s = testing::WriteJournal(world.journal(), journal, o);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
};

TEST(Cli, InfoGivesTheRangeTheCountsAndTheSnapshots) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("entries:          1.." + std::to_string(rec.world.journal().size())),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("schema version:   " + std::to_string(kSchemaVersion)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("snapshots:"), std::string::npos);
  EXPECT_NE(r.out.find("create-pod"), std::string::npos);
  // The simulated operator's build is "test": not this drop-replay's.
  EXPECT_NE(r.out.find("recorded by:      drop test (1 start); this drop-replay is " +
                       std::string(kBuild) + "\n"),
            std::string::npos)
      << r.out;
  testing::Run json = Replay(rec.journal, {"info", "-o", "json"});
  boost::json::value doc = boost::json::parse(json.out);
  EXPECT_EQ(doc.at("entries").to_number<uint64_t>(), rec.world.journal().size());
  EXPECT_EQ(doc.at("recordedBy").at(0).at("build").as_string(), "test");
  EXPECT_EQ(doc.at("replayBuild").as_string(), kBuild);
}

// The build a journal's operator starts record is named as --version names it: the version, and
// the commit when built from git.
TEST(Cli, VersionNamesTheBuildByItsCommit) {
  testing::Run version = Replay("", {"--version"});
  EXPECT_EQ(version.exit_code, 0) << version.err;
  EXPECT_EQ(version.out, std::string(kBuild) + "\n");
  if (std::string_view(DROP_BUILD_ID_FOR_TESTS).empty()) {
    const std::string escaped =
        std::regex_replace(DROP_VERSION_FOR_TESTS, std::regex("\\."), "\\.");
    EXPECT_TRUE(std::regex_match(kBuild, std::regex(escaped + "(\\+g[0-9a-f]{12,64}(\\.dirty)?)?")))
        << kBuild;
  } else {
    EXPECT_STREQ(kBuild, DROP_BUILD_ID_FOR_TESTS) << "named by -DDROP_BUILD_ID";
  }
}

// A status write says when the image pulls next, where it says so (the demo's gentle policy
// holds ml-runtime 2 s between creations).
TEST(Cli, AStatusWriteInTheLogGivesItsNextPullTime) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"log", "--kind", "patch-status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("write status of cachedimage/ml-runtime: Pulling 0/8 (Pulling), next pull "
                       "2027-01-15T08:00:0"),
            std::string::npos)
      << r.out;
}

TEST(Cli, LogByReconcileIdShowsItsTriggerAndItsDecisionsOnly) {
  Recorded rec;
  const v1::Entry* start = nullptr;
  for (const v1::Entry& e : rec.world.journal()) {
    if (e.has_reconcile() && e.reconcile().key().kind() == v1::KIND_PULL_POLICY) start = &e;
  }
  ASSERT_NE(start, nullptr);
  testing::Run r =
      Replay(rec.journal, {"log", "--reconcile-id", std::to_string(start->seq()), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::value doc = boost::json::parse(r.out);
  const auto& items = doc.at("items").as_array();
  ASSERT_GE(items.size(), 2u);
  EXPECT_EQ(items[0].at("seq").to_number<uint64_t>(), start->reconcile().trigger_seq());
  for (size_t i = 1; i < items.size(); ++i)
    EXPECT_EQ(items[i].at("reconcileId").to_number<uint64_t>(), start->seq());
}

TEST(Cli, LogFiltersByNodeKindAndTime) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"log", "--node", "node-5", "--kind", "outcome"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("pulled db on node-5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pulled web on node-5"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("node-4"), std::string::npos) << r.out;
  // A pull's Events name their node in their message only; they are the node's entries too.
  testing::Run events = Replay(rec.journal, {"log", "--node", "node-5", "--kind", "event"});
  EXPECT_NE(events.out.find("PullStarted: Pulling registry.example.com/db:2 on node node-5 ("),
            std::string::npos)
      << events.out;
  EXPECT_NE(events.out.find("PullSucceeded: Pulled registry.example.com/db:2 on node node-5 in "),
            std::string::npos)
      << events.out;
  EXPECT_EQ(events.out.find("on node node-4"), std::string::npos) << events.out;
  testing::Run early = Replay(rec.journal, {"log", "--until", "+0s", "--kind", "create-pod"});
  EXPECT_NE(early.out.find("create pod/drop-web-"), std::string::npos) << early.out;
  EXPECT_EQ(early.out.find("08:00:02"), std::string::npos) << early.out;
  // A node the journal names, with no entry that passes the filters: an empty log, no error.
  testing::Run none =
      Replay(rec.journal, {"log", "--node", "node-5", "--kind", "outcome", "--until", "+0s"});
  EXPECT_EQ(none.exit_code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_NE(none.err.find("No entries match, of entries 1.."), std::string::npos) << none.err;
}

TEST(Cli, StateAtTheEndIsTheStatusDropWroteToTheApiServer) {
  Recorded rec;
  for (const char* name : {"web", "db"}) {
    testing::Run r =
        Replay(rec.journal, {"state", std::string("cachedimage/") + name, "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    boost::json::value doc = boost::json::parse(r.out);
    const v1::CachedImageStatus& wrote = rec.world.Image(name).status();
    const auto& status = doc.at("status");
    EXPECT_EQ(status.at("phase").as_string(), wrote.phase()) << name;
    EXPECT_EQ(status.at("nodesReady").as_int64(), wrote.nodes_ready());
    EXPECT_EQ(status.at("nodesTargeted").as_int64(), wrote.nodes_targeted());
    const auto& nodes = status.at("cachedNodes").as_array();
    ASSERT_EQ(static_cast<int>(nodes.size()), wrote.cached_nodes_size());
    for (int i = 0; i < wrote.cached_nodes_size(); ++i)
      EXPECT_EQ(nodes[i].as_string(), wrote.cached_nodes(i));
    const auto& c = status.at("conditions").at(0);
    EXPECT_EQ(c.at("reason").as_string(), wrote.conditions(0).reason());
    EXPECT_EQ(c.at("message").as_string(), wrote.conditions(0).message());
    EXPECT_EQ(c.at("lastTransitionTime").as_string(),
              FormatTime(wrote.conditions(0).last_transition_time_ms()));
  }
}

TEST(Cli, StateAtAPointShowsWhatDropBelievedThen) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"state", "--at", "+4s", "cachedimage/web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("kind: CachedImage"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("phase: Pulling"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nodesReady: 1"), std::string::npos) << r.out;
  testing::Run all = Replay(rec.journal, {"state", "--at", "+4s"});
  EXPECT_NE(all.out.find("CACHEDIMAGE"), std::string::npos) << all.out;
  // The moment asked for, then the entry it falls after: not that entry's own time.
  EXPECT_TRUE(all.out.starts_with("State at 2027-01-15T08:00:04.000Z, after entry ")) << all.out;
  EXPECT_NE(all.out.find("gentle"), std::string::npos);
  testing::Run policy = Replay(rec.journal, {"state", "--at", "+4s", "pullpolicy/gentle"});
  EXPECT_NE(policy.out.find("activePods:"), std::string::npos) << policy.out;
  // The whole state as a list carries each PullPolicy's pacing too, as the table's columns do.
  testing::Run list = Replay(rec.journal, {"state", "--at", "+4s", "-o", "json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  int policies = 0;
  const boost::json::value doc = boost::json::parse(list.out);
  for (const boost::json::value& item : doc.at("items").as_array()) {
    if (item.at("kind") != "PullPolicy") continue;
    ++policies;
    const boost::json::object& pacing = item.at("pacing").as_object();
    EXPECT_EQ(pacing.at("active").to_number<int64_t>(),
              static_cast<int64_t>(pacing.at("activePods").as_array().size()))
        << item;
  }
  EXPECT_GE(policies, 1) << list.out;
  testing::Run node = Replay(rec.journal, {"state", "node/node-5"});
  EXPECT_NE(node.out.find("cachedImage: db"), std::string::npos) << node.out;
  // Right after its create, a pod the watch has not shown is being created: no phase yet, and
  // not Kubernetes' Unknown (a node out of touch).
  for (const v1::Entry& e : rec.world.journal()) {
    if (!e.has_action() || !e.action().has_create_pod()) continue;
    const std::string& on = e.action().create_pod().pod().node();
    testing::Run created =
        Replay(rec.journal, {"state", "--at", std::to_string(e.seq()), "node/" + on});
    EXPECT_NE(created.out.find("podPhase: Creating"), std::string::npos) << created.out;
    EXPECT_EQ(created.out.find("Unknown"), std::string::npos) << created.out;
    break;
  }
}

// The summary's drop pods are active, on a pull error (rule 1 counts them as neither) or finished:
// the row adds up, in the demo's rollout where broken's first pod reports ErrImagePull and at a few
// times around it.
TEST(Cli, StatesSummaryCountsEveryDropPodOnce) {
  TempDir dir;
  const std::vector<v1::Entry> journal = testing::DemoJournal();
  ASSERT_TRUE(testing::WriteJournal(journal, dir / "j").ok());
  std::vector<std::string> points = {"+5s", "+20s", "+60s", "+200s"};
  for (const v1::Entry& e : journal) {
    if (e.has_watch() && e.watch().has_pod() &&
        e.watch().pod().waiting_reason() == "ErrImagePull") {
      points.push_back(std::to_string(e.seq()));
      break;
    }
  }
  ASSERT_EQ(points.size(), 5u) << "no pod of broken reports ErrImagePull";
  for (const std::string& at : points) {
    testing::Run summary = Replay(dir / "j", {"state", "--at", at});
    std::smatch m;
    ASSERT_TRUE(std::regex_search(summary.out, m,
                                  std::regex("ON PULL ERROR +FINISHED *\\n(?:[0-9]+ +){3}"
                                             "([0-9]+) +([0-9]+) +([0-9]+) +([0-9]+)")))
        << at << ": " << summary.out << summary.err;
    EXPECT_EQ(std::stoi(m[1]), std::stoi(m[2]) + std::stoi(m[3]) + std::stoi(m[4])) << at << ":\n"
                                                                                    << summary.out;
    if (at == points.back()) {
      EXPECT_GE(std::stoi(m[3]), 1) << at << ":\n" << summary.out;
    }
  }
}

TEST(Cli, StateOfAnInvalidPullPolicySaysWhyNothingUnderItPulls) {
  TempDir dir;
  World w;
  testing::StartWithAnInvalidPolicy(&w);
  w.RunFor(10 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"state", "pullpolicy/broken", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(boost::json::parse(r.out).at("pacing").at("specError"),
            "PullPolicy broken: spec.maxConcurrentNodes is 0; it must be at least 1")
      << r.out;
  Recorded rec;
  testing::Run valid = Replay(rec.journal, {"state", "pullpolicy/gentle", "-o", "json"});
  ASSERT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_FALSE(boost::json::parse(valid.out).at("pacing").as_object().contains("specError"));
}

TEST(Cli, AgesKeepOneUnitAndAnEmptyRangeSaysSo) {
  // A column of "13s" and "3323ms" reads as unsorted: tenths of seconds under ten.
  EXPECT_EQ(Age(3323), "3.3s");
  EXPECT_EQ(Age(3000), "3s");
  EXPECT_EQ(Age(13400), "13s");
  EXPECT_EQ(Age(50), "0s");
  Recorded rec;
  testing::Run after =
      Replay(rec.journal, {"log", "--since", std::to_string(rec.world.journal().back().seq())});
  EXPECT_EQ(after.exit_code, 0) << after.err;
  EXPECT_NE(
      after.err.find("No entries: the range asked for is empty; the journal holds entries 1.."),
      std::string::npos)
      << after.err;
}

TEST(Cli, ObjectsAreNamedAsKubectlNamesThemAndAMisnamedOneGetsAnExample) {
  Recorded rec;
  testing::Run kind = Replay(rec.journal, {"state", "CachedImage/web"});
  EXPECT_EQ(kind.exit_code, 0) << kind.err;
  EXPECT_NE(kind.out.find("kind: CachedImage"), std::string::npos) << kind.out;
  testing::Run node = Replay(rec.journal, {"log", "--object", "Node/node-5"});
  EXPECT_EQ(node.exit_code, 0) << node.err;
  EXPECT_NE(node.out.find("node/node-5"), std::string::npos) << node.out;
  // A bare name, and the kinds state takes: not pod/NAME, which it refuses.
  testing::Run bare = Replay(rec.journal, {"state", "web"});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_NE(bare.err.find("state web: name an object as KIND/NAME, where KIND is cachedimage, "
                          "pullpolicy or node (e.g. cachedimage/web)"),
            std::string::npos)
      << bare.err;
}

TEST(Cli, DiffNamesWhatChangedBetweenTwoPoints) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"diff", "--from", "+1s", "--to", "-0s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("~ cachedimage/web: Pulling"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-> Ready, 6/6 nodes ready"), std::string::npos) << r.out;
}

TEST(Cli, DiffNamesTheImagesANodeListsByTheirCachedImages) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0").Image("registry.example.com/kept:1"));
  w.PutPolicy(PolicyBuilder("gentle", 2, 0));
  w.PutImage(ImageBuilder("web", "registry.example.com/web:1").Policy("gentle"));
  w.Start();
  w.RunFor(10 * kSec);
  // The kubelet's next report: the image drop pulled and one drop knows nothing of; kept:1 went.
  w.PutNode(NodeBuilder("node-0")
                .Image("registry.example.com/web:1")
                .Image("registry.example.com/other:7"));
  w.RunFor(10 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"diff", "--from", "+1s", "--to", "-0s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("~ node/node-0: lists registry.example.com/web:1; 1 other image listed; 1 "
                       "other image no longer listed\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("image_hashes"), std::string::npos) << r.out;
}

// Besides the phase and counts, a CachedImage's line names the rest of the status drop would
// write (its failed nodes, its next pull) and of its spec.
TEST(Cli, DiffNamesTheStatusFieldsBeyondItsSummary) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutNode(NodeBuilder("node-1"));
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(30 * kSec, 60 * kSec, 2, 5));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kExitFailure, kSec}; });
  w.Start();
  w.RunFor(5 * kSec);
  w.PutImage(ImageBuilder("web", "web:1").Policy("p").Selector({{"pool", "cpu"}}));
  w.RunFor(kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  auto line = [&](const std::string& from, const std::string& to) {
    testing::Run r = Replay(dir / "j", {"diff", "--from", from, "--to", to});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    size_t at = r.out.find("~ cachedimage/web: ");
    return at == std::string::npos ? r.out : r.out.substr(at, r.out.find('\n', at) - at);
  };
  std::string failed = line("+0s", "+4s");
  EXPECT_NE(failed.find("; nextPullTime: (none) -> 2027-01-15T08:00:3"), std::string::npos)
      << failed;
  EXPECT_NE(failed.find("; failedNodes: +node-0 (Error)"), std::string::npos) << failed;
  std::string moved = line("+4s", "-0s");
  EXPECT_NE(moved.find("; nodeSelector: +pool=cpu; nextPullTime: 2027-01-15T08:00:31.000Z -> "
                       "(none); observedGeneration: 1 -> 2"),
            std::string::npos)
      << moved;
  // Two times between the same two entries, the later first: swapped, as two entries would be.
  testing::Run swapped = Replay(dir / "j", {"diff", "--from", "+0.2s", "--to", "+0.1s"});
  EXPECT_EQ(swapped.exit_code, 2) << swapped.out;
  EXPECT_NE(swapped.err.find("swap them"), std::string::npos) << swapped.err;
}

// The demo's journal as a minute's retention leaves it: its first entries cut, the state they
// folded to kept in a snapshot.
void WriteRetentionCutDemo(const std::string& dir) {
  testing::WriteOptions wo;
  wo.snapshot_every_entries = 10;
  wo.retention_age_ms = 60 * kSec;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir, wo).ok());
  ASSERT_EQ(Replay(dir, {"info"}).out.find("entries:          1.."), std::string::npos)
      << "a prefix should be gone";
}

// A diff compares two states. Before a journal that starts at entry 1 lies the empty state; before
// one retention cut, a state never kept: refused, where a range of entries starts at the journal.
TEST(Cli, DiffFromBeforeAJournalRetentionCutIsRefused) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(WriteRetentionCutDemo(dir / "j"));
  const std::string before = "2027-01-15T07:00:00Z";
  testing::Run diff = Replay(dir / "j", {"diff", "--from", before, "--to", "-0s"});
  EXPECT_EQ(diff.exit_code, 2) << diff.out;
  EXPECT_NE(diff.err.find("it holds no state before"), std::string::npos) << diff.err;
  EXPECT_NE(diff.err.find("that retention kept"), std::string::npos) << diff.err;
  testing::Run log = Replay(dir / "j", {"log", "--since", before, "--limit", "1"});
  EXPECT_EQ(log.exit_code, 0) << log.err;
}

// A diff speaks the API's language: its field names, durations as durations, a taint as kubectl
// writes one; not protobuf's.
TEST(Cli, DiffNamesFieldsAsTheApiDoes) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutPolicy(PolicyBuilder("gentle", 4, 0));
  w.Start();
  w.RunFor(5 * kSec);
  PolicyBuilder slower("gentle", 1, 10 * kSec);
  slower.object.set_generation(2);
  slower.Timeout(9'007'200'000'000'000);  // beyond 2^53: its JSON is a string
  w.PutPolicy(slower);
  w.PutNode(NodeBuilder("node-0").Unschedulable().Taint("node.kubernetes.io/unschedulable", "",
                                                        "NoSchedule"));
  w.RunFor(kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"diff", "--from", "+2s", "--to", "-0s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("~ pullpolicy/gentle: maxConcurrentNodes: 4 -> 1; minDelayBetweenPulls: "
                       "0s -> 10s; pullTimeout: 10m0s -> 2502000000h0m0s\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("~ node/node-0: unschedulable: false -> true; taints: "
                       "+node.kubernetes.io/unschedulable:NoSchedule\n"),
            std::string::npos)
      << r.out;
}

// A CachedImage's changes are one list, each part once: a new image of one that targets no node
// leaves its status line as it was, and the parts around it are not joined twice.
TEST(Cli, DiffJoinsACachedImagesChangesOnce) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutImage(ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}}));
  w.Start();
  w.RunFor(5 * kSec);
  w.PutImage(ImageBuilder("web", "web:2").Selector({{"pool", "gpu"}}));
  w.RunFor(kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"diff", "--from", "+2s", "--to", "-0s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("~ cachedimage/web: image web:1 -> web:2; observedGeneration: 1 -> 2\n"),
            std::string::npos)
      << r.out;
}

// log, timeline and export take a range as diff and verify do, --from and --to, as well as
// --since and --until: a user who has just run diff need not learn two spellings.
TEST(Cli, ARangeIsFromAndToInEveryCommand) {
  Recorded rec;
  testing::Run since = Replay(rec.journal, {"log", "--since", "+2s", "--until", "+5s"});
  testing::Run from = Replay(rec.journal, {"log", "--from", "+2s", "--to", "+5s"});
  ASSERT_EQ(from.exit_code, 0) << from.err;
  EXPECT_FALSE(since.out.empty());
  EXPECT_EQ(from.out, since.out);
  testing::Run exported = Replay(rec.journal, {"export", "--from", "+2s", "--to", "+5s"});
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  // An error names the flag as it was typed.
  testing::Run blank = Replay(rec.journal, {"log", "--from", ""});
  EXPECT_NE(blank.err.find("--from is empty"), std::string::npos) << blank.err;
  testing::Run late = Replay(rec.journal, {"export", "--to", "2020-01-01T00:00:00Z"});
  EXPECT_EQ(late.exit_code, 2);
  EXPECT_NE(late.err.find("--to "), std::string::npos) << late.err;
  EXPECT_EQ(late.err.find("--until"), std::string::npos) << late.err;
  testing::Run back = Replay(rec.journal, {"timeline", "--from", "+5s", "--to", "+2s"});
  EXPECT_NE(back.err.find("--to +2s (entry "), std::string::npos) << back.err;
  EXPECT_NE(back.err.find(") is before --from +5s (entry "), std::string::npos) << back.err;
  EXPECT_NE(back.err.find("swap them"), std::string::npos) << back.err;
  EXPECT_EQ(Replay(rec.journal, {"log", "--since", ""}).err.find("--from"), std::string::npos);
}

// Between the last entry of one operator process and the start of the next, the journal is
// silent: a state or an explanation there says drop may not have been running.
TEST(Cli, AMomentBeforeAnOperatorStartSaysDropMayNotHaveBeenRunning) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, kSec}; });
  w.Start();
  w.RunFor(60 * kSec);
  w.Start();  // a new process, after a minute without an entry
  w.RunFor(5 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  const std::string note = "drop may not have been running";
  testing::Run gap = Replay(dir / "j", {"state", "--at", "+50s"});
  ASSERT_EQ(gap.exit_code, 0) << gap.err;
  EXPECT_NE(gap.out.find("note: the operator that wrote entry "), std::string::npos) << gap.out;
  EXPECT_NE(gap.out.find(note), std::string::npos) << gap.out;
  testing::Run explain = Replay(dir / "j", {"explain", "cachedimage/web", "--at", "+50s"});
  EXPECT_NE(explain.out.find(note), std::string::npos) << explain.out;
  testing::Run object = Replay(dir / "j", {"state", "--at", "+50s", "cachedimage/web"});
  EXPECT_TRUE(object.out.starts_with("# note: the operator that wrote entry ")) << object.out;
  // While it ran, no such note.
  EXPECT_EQ(Replay(dir / "j", {"state", "--at", "+1s"}).out.find(note), std::string::npos);
  EXPECT_EQ(Replay(dir / "j", {"state", "--at", "-0s"}).out.find(note), std::string::npos);
}

// Each line stands alone for jq: 64-bit integers are numbers it can compare, zeros are shown,
// and hashes stay strings (they do not fit a double).
TEST(Cli, ExportWritesOneJsonObjectPerEntry) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutNode(NodeBuilder("node-1").Image("web:1"));
  w.PutImage(ImageBuilder("web", "web:1"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, kSec}; });
  w.Start();
  w.RunFor(10 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"export"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  size_t lines = 0, start = 0;
  bool pacing = false, hashes = false;
  while (start < r.out.size()) {
    size_t end = r.out.find('\n', start);
    boost::json::value v = boost::json::parse(r.out.substr(start, end - start));
    EXPECT_EQ(v.at("seq").to_number<uint64_t>(), ++lines);
    EXPECT_TRUE(v.at("timeMs").is_int64()) << v;
    EXPECT_TRUE(v.as_object().contains("time"));
    if (v.at("kind") == "pacing") {
      pacing = true;
      EXPECT_TRUE(v.at("pacing").as_object().contains("active")) << v;
      EXPECT_TRUE(v.at("pacing").at("notBeforeMs").is_int64()) << v;
    }
    const boost::json::value* watch = v.as_object().if_contains("watch");
    if (const auto* node = watch != nullptr ? watch->as_object().if_contains("node") : nullptr) {
      for (const boost::json::value& h : node->at("imageHashes").as_array()) {
        EXPECT_TRUE(h.is_string()) << v;
        hashes = true;
      }
    }
    start = end + 1;
  }
  EXPECT_EQ(lines, w.journal().size());
  EXPECT_TRUE(pacing);
  EXPECT_TRUE(hashes) << "no node listed an image";
}

TEST(BadInput, AMissingDirectoryIsExitTwoWithAMessage) {
  TempDir dir;
  testing::Run r = Replay(dir / "nope", {"info"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;
  // A symbolic link that leads nowhere, or round in a loop, is said to be one.
  std::filesystem::create_directory_symlink(dir / "loop", dir / "loop");
  std::filesystem::create_directory_symlink(dir / "gone", dir / "dangling");
  for (const char* link : {"loop", "dangling"}) {
    testing::Run linked = Replay(dir / link, {"info"});
    EXPECT_EQ(linked.exit_code, 2) << link;
    EXPECT_NE(linked.err.find("a symbolic link to nothing that exists (or in a loop)"),
              std::string::npos)
        << linked.err;
  }
  testing::Run none = Replay("", {"info"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("pass --journal DIR"), std::string::npos) << none.err;
}

TEST(BadInput, ADirectoryThatIsNotAJournalIsExitTwoAndLeftAsItWas) {
  TempDir dir;
  std::filesystem::create_directory(dir / "notes");
  std::ofstream(dir / "notes/readme.txt") << "not a journal";
  std::string before = testing::Fingerprint(dir / "notes");
  testing::Run r = Replay(dir / "notes", {"verify"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not a drop journal"), std::string::npos) << r.err;
  EXPECT_EQ(testing::Fingerprint(dir / "notes"), before);
  testing::Run file = Replay(dir / "notes/readme.txt", {"info"});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("a file, not a directory"), std::string::npos) << file.err;
}

// Damage RocksDB reads past, or stops on, is said as damage: never a hang, never a crash.
// - A write-ahead log cut inside its last record (a copy cut short, or a crash mid-write) is
//   read without that record, and a note says so: it would read as a shorter journal.
// - A log that repeats itself trips an assertion Debian's RocksDB keeps: exit 2, with what to do.
// - A FIFO (or a device) where RocksDB reads a file would hang the open (or fill the memory).
TEST(BadInput, DamagedFilesAreSaidAsDamageNeverAHangOrACrash) {
  namespace fs = std::filesystem;
  Recorded rec;
  const std::string before = testing::Fingerprint(rec.journal);
  TempDir out;
  // A copy of the journal, changed by `damage` (given the copy's write-ahead log), then read.
  // With `live`, the copy's LOCK is held as its writer holds it, and drop-replay follows it as a
  // secondary, with its temporary directory in out/tmp.
  fs::create_directory(out / "tmp");
  auto read = [&](const std::string& name, const std::function<void(const fs::path&)>& damage,
                  const std::string& flags, bool live = false) {
    const fs::path copy = out / name;
    fs::copy(rec.journal, copy);
    fs::path log;
    for (const auto& f : fs::directory_iterator(copy)) {
      if (f.path().extension() == ".log") log = f.path();
    }
    EXPECT_FALSE(log.empty()) << "the journal's entries are in a write-ahead log";
    damage(log);
    const int lock = live ? ::open((copy / "LOCK").c_str(), O_RDWR | O_CLOEXEC) : -1;
    if (live) {
      struct flock held {};
      held.l_type = F_WRLCK;
      held.l_whence = SEEK_SET;
      EXPECT_EQ(::fcntl(lock, F_SETLK, &held), 0) << std::strerror(errno);
    }
    const std::string cmd = "TMPDIR=" + testing::Quote(out / "tmp") + " timeout 60 " +
                            testing::Quote(DROP_REPLAY) + " -j " + testing::Quote(copy) + " " +
                            flags + " info >/dev/null 2>" + testing::Quote(out / (name + ".err"));
    const int status = std::system(cmd.c_str());
    if (lock >= 0) ::close(lock);
    return std::pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     testing::ReadFile(out / (name + ".err")));
  };
  auto [torn, torn_err] = read(
      "torn", [](const fs::path& log) { fs::resize_file(log, fs::file_size(log) - 7); }, "");
  EXPECT_EQ(torn, 0) << torn_err;
  EXPECT_NE(torn_err.find("note: the journal's write-ahead log ends in a torn record (the operator "
                          "stopped mid-write, or the copy was cut short there): read entries 1.."),
            std::string::npos)
      << torn_err;
  auto repeat = [](const fs::path& log) {
    const std::string bytes = testing::ReadFile(log);
    std::ofstream(log, std::ios::app | std::ios::binary) << bytes;
  };
  for (bool live : {false, true}) {
    auto [again, again_err] = read(live ? "repeated-live" : "repeated", repeat, "", live);
    EXPECT_TRUE(again == 0 || again == 2) << again << ": " << again_err;
    if (again == 2 && again_err.find("Assertion") != std::string::npos) {
      EXPECT_NE(again_err.find("drop-replay: the journal's files failed a check of the RocksDB "
                               "library as they were read"),
                std::string::npos)
          << again_err;
    }
    EXPECT_TRUE(fs::is_empty(out / "tmp")) << "a live journal's temporary directory stays behind";
  }
  auto [fifo, fifo_err] = read(
      "fifo",
      [](const fs::path& log) {
        fs::remove(log.parent_path() / "CURRENT");
        ASSERT_EQ(::mkfifo((log.parent_path() / "CURRENT").c_str(), 0644), 0);
      },
      "--salvage");
  EXPECT_EQ(fifo, 2) << fifo_err;
  EXPECT_NE(fifo_err.find("/fifo: CURRENT is a FIFO, not a file; the journal is damaged or not "
                          "what it seems. Copy the whole journal directory again"),
            std::string::npos)
      << fifo_err;
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);
}

TEST(BadInput, AJournalOfANewerSchemaIsExitTwo) {
  Recorded rec;
  {
    journal::Store::Options rw;
    rw.mode = journal::Store::Mode::kReadWrite;
    auto store = journal::Store::Open(rec.journal, rw);
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)
                    ->db()
                    ->Put(rocksdb::WriteOptions(), (*store)->meta(),
                          std::string(journal::kSchemaVersionKey), "99")
                    .ok());
  }
  testing::Run r = Replay(rec.journal, {"info"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("schema version 99, newer than this build"), std::string::npos) << r.err;
}

TEST(BadInput, ATimeOutsideTheJournalIsExitTwoAndNamesTheRange) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"state", "--at", "2020-01-01T00:00:00Z"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("is outside the journal: the journal holds entries 1.."), std::string::npos)
      << r.err;
  testing::Run seq = Replay(rec.journal, {"explain", "cachedimage/web", "--at", "99999999"});
  EXPECT_EQ(seq.exit_code, 2);
  EXPECT_NE(seq.err.find("no such entry"), std::string::npos) << seq.err;
  testing::Run garbage = Replay(rec.journal, {"diff", "--from", "yesterday", "--to", "-0s"});
  EXPECT_EQ(garbage.exit_code, 2);
  EXPECT_NE(garbage.err.find("not a sequence number, an RFC 3339 time"), std::string::npos);
}

TEST(Cli, TheBuiltInPolicyAnswersToBothItsSpellings) {
  Recorded rec;  // db has no pullPolicyRef: the built-in policy paces it
  testing::Run bare = Replay(rec.journal, {"log", "--object", "pullpolicy/default"});
  testing::Run shown = Replay(rec.journal, {"log", "--object", "pullpolicy/(default)"});
  ASSERT_EQ(bare.exit_code, 0) << bare.err;
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.out.find("reconcile pullpolicy/(default)"), std::string::npos) << shown.out;
  EXPECT_EQ(bare.out, shown.out);
  testing::Run state = Replay(rec.journal, {"state", "pullpolicy/default"});
  ASSERT_EQ(state.exit_code, 0) << state.err;
  EXPECT_EQ(state.out, Replay(rec.journal, {"state", "pullpolicy/(default)"}).out);
  testing::Run missing = Replay(rec.journal, {"state", "pullpolicy/nope"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("pullpolicy/(default), the built-in one"), std::string::npos)
      << missing.err;
  // The whole state lists it as its table does, in JSON too.
  testing::Run table = Replay(rec.journal, {"state"});
  EXPECT_NE(table.out.find("\n(default) "), std::string::npos) << table.out;
  testing::Run all = Replay(rec.journal, {"state", "-o", "json"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  const boost::json::value doc = boost::json::parse(all.out);
  int defaults = 0;
  for (const boost::json::value& item : doc.at("items").as_array()) {
    const boost::json::object& o = item.as_object();
    defaults += o.at("kind") == "PullPolicy" && o.at("metadata").at("name") == "(default)";
  }
  EXPECT_EQ(defaults, 1) << all.out;
}

// Writes `rec`'s journal key by key, as damage on disk would leave it.
void Damage(const Recorded& rec,
            const std::function<rocksdb::Status(journal::Store&, rocksdb::DB*)>& f) {
  journal::Store::Options rw;
  rw.mode = journal::Store::Mode::kReadWrite;
  auto store = journal::Store::Open(rec.journal, rw);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE(f(**store, (*store)->db()).ok());
}

TEST(Cli, AJournalWhoseEntriesRetentionDroppedStillShowsItsLastState) {
  Recorded rec;
  testing::Run before = Replay(rec.journal, {"state"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const uint64_t last = rec.world.journal().size();
  {
    // A size limit below one entry: the snapshot after the last entry is all that stays.
    journal::JournalOptions o;
    o.dir = rec.journal;
    o.retention_bytes = 1;
    auto j = journal::Journal::Open(o);
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    ASSERT_TRUE((*j)->WriteSnapshot((*j)->TakeRecoveredState()).ok());
    auto range = (*j)->store().Range();
    ASSERT_TRUE(range.ok());
    ASSERT_GT(range->first, range->second) << "every entry should be gone";
  }
  testing::Run info = Replay(rec.journal, {"info"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(
      info.out.find("retention dropped them all; the state after entry " + std::to_string(last)),
      std::string::npos)
      << info.out;
  // The operator's start went with them; the build that recorded the journal is still named.
  EXPECT_NE(info.out.find("recorded by:      drop test (started before entry " +
                          std::to_string(last + 1) + ", where the kept entries begin)"),
            std::string::npos)
      << info.out;
  testing::Run after = Replay(rec.journal, {"state"});
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(after.out, before.out);
  testing::Run at = Replay(rec.journal, {"state", "--at", std::to_string(last), "cachedimage/web"});
  EXPECT_EQ(at.exit_code, 0) << at.err;
  testing::Run earlier = Replay(rec.journal, {"state", "--at", "5"});
  EXPECT_EQ(earlier.exit_code, 2);
  EXPECT_NE(earlier.err.find("the only point left (--at " + std::to_string(last) + ")"),
            std::string::npos)
      << earlier.err;
  testing::Run explain = Replay(rec.journal, {"explain", "cachedimage/web"});
  EXPECT_EQ(explain.exit_code, 2);
  EXPECT_NE(explain.err.find("drop-replay state` shows it"), std::string::npos) << explain.err;
  EXPECT_EQ(Replay(rec.journal, {"log"}).exit_code, 2);
  // With that snapshot damaged, info says what it still can, and why the build is unknown; then
  // it ends with the damage, exit 2, as every other command there does.
  Damage(rec, [&](journal::Store& s, rocksdb::DB* db) {
    return db->Put(rocksdb::WriteOptions(), s.snapshots(), journal::EncodeSeq(last), "garbage");
  });
  testing::Run damaged = Replay(rec.journal, {"info"});
  EXPECT_EQ(damaged.exit_code, 2) << damaged.err;
  EXPECT_NE(damaged.err.find("the snapshot at entry " + std::to_string(last) +
                             " does not decode as a drop.v1.State; the journal is damaged"),
            std::string::npos)
      << damaged.err;
  EXPECT_NE(damaged.out.find("recorded by:      the build that ran before entry " +
                             std::to_string(last + 1) + " is unknown: "),
            std::string::npos)
      << damaged.out;
}

// Entries gone from before the point retention keeps them from were lost, not dropped: a table
// file missing under a live journal's reader (which RocksDB lets pass) reads so.
TEST(BadInput, EntriesMissingBeforeWhatRetentionKeptAreDamageNotRetention) {
  Recorded rec;
  Damage(rec, [&](journal::Store& s, rocksdb::DB* db) {
    return db->DeleteRange(rocksdb::WriteOptions(), s.entries(), journal::EncodeSeq(1),
                           journal::EncodeSeq(6));
  });
  testing::Run info = Replay(rec.journal, {"info"});
  EXPECT_EQ(info.exit_code, 2) << info.out;
  EXPECT_NE(info.err.find(": entries 1..5 are missing, and retention did not drop them (it keeps "
                          "entries from 1 on): a table file is missing or damaged"),
            std::string::npos)
      << info.err;
}

TEST(BadInput, AnUnknownObjectIsExitTwoAndListsWhatExists) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"explain", "cachedimage/nope"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("cachedimage/nope does not exist"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CachedImages then: db, web"), std::string::npos) << r.err;
  // explain tells only a CachedImage's story: a bare name is one, another kind is refused.
  EXPECT_EQ(Replay(rec.journal, {"explain", "web"}).out,
            Replay(rec.journal, {"explain", "cachedimage/web"}).out);
  testing::Run policy = Replay(rec.journal, {"explain", "pullpolicy/gentle"});
  EXPECT_EQ(policy.exit_code, 2);
  EXPECT_NE(policy.err.find("explain tells the story of a cachedimage/NAME"), std::string::npos)
      << policy.err;
  testing::Run node = Replay(rec.journal, {"state", "node/nope"});
  EXPECT_EQ(node.exit_code, 2);
  testing::Run kind = Replay(rec.journal, {"state", "deployment/x"});
  EXPECT_EQ(kind.exit_code, 2);
  testing::Run flag = Replay(rec.journal, {"log", "--kind", "nonsense"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("unknown kind; use one of"), std::string::npos) << flag.err;
  testing::Run usage = Replay(rec.journal, {"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST(BadInput, ACountFlagRefusesANumberBelowItsLeast) {
  Recorded rec;
  for (const std::vector<std::string>& c :
       std::vector<std::vector<std::string>>{{"verify", "--jobs", "0"},
                                             {"log", "--limit", "-3"},
                                             {"log", "--reconcile-id", "-1"},
                                             {"simulate", "--full-speed-pulls", "-1"}}) {
    testing::Run r = Replay(rec.journal, c);
    EXPECT_EQ(r.exit_code, 2) << c[1];
    EXPECT_NE(r.err.find(c[1] + ": must be a whole number of at least"), std::string::npos)
        << r.err;
  }
}

TEST(BadInput, AMistypedCommandIsNamedWithTheCommandsThereAre) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"verfiy", "--from", "3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'verfiy' is not a command; the commands are info, log, state, explain, "
                       "verify, diff, timeline, simulate, export"),
            std::string::npos)
      << r.err;
  testing::Run option_first = Replay(rec.journal, {"--from", "3"});
  EXPECT_EQ(option_first.exit_code, 2);
  EXPECT_NE(option_first.err.find(
                "no command given, and drop-replay itself takes no --from; the commands are"),
            std::string::npos)
      << option_first.err;
}

// Words a command does not take are named as typed, with the command; the timeline's -o names
// its HTML file, so a format there is a mistake, not a file called json.
TEST(BadInput, WordsACommandDoesNotTakeAreNamedAsTyped) {
  Recorded rec;
  testing::Run r = Replay(rec.journal, {"verify", "--threads", "1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("drop-replay verify does not take '--threads 1'; drop-replay verify --help "
                       "lists what it takes"),
            std::string::npos)
      << r.err;
  testing::Run early = Replay(rec.journal, {"-o", "json", "info"});
  EXPECT_EQ(early.exit_code, 2);
  EXPECT_NE(early.err.find("'-o json' comes before the command info: a command's flags go after "
                           "it (drop-replay info -o json)"),
            std::string::npos)
      << early.err;
  // Not fooled by a word that came after the command, or by a journal named like a command.
  testing::Run after = Replay(rec.journal, {"info", rec.journal});
  EXPECT_NE(after.err.find("drop-replay info does not take '" + rec.journal + "'"),
            std::string::npos)
      << after.err;
  for (const char* format : {"json", "yaml"}) {
    const std::filesystem::path file = std::filesystem::current_path() / format;
    std::filesystem::remove(file);
    testing::Run t = Replay(rec.journal, {"timeline", "-o", format});
    EXPECT_EQ(t.exit_code, 2) << format;
    EXPECT_NE(t.err.find(std::string("timeline -o ") + format +
                         ": the timeline is one HTML file, and -o names it"),
              std::string::npos)
        << t.err;
    EXPECT_FALSE(std::filesystem::exists(file)) << format;
  }
}

TEST(BadInput, AFlagWithNothingAfterItsEqualsSignIsNamedNotGivenTheNextWord) {
  Recorded rec;
  // As `drop-replay --journal=$DIR info` runs when DIR is not set.
  testing::Run r = Replay("", {"--journal=", "info"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--journal= has nothing after the '='"), std::string::npos) << r.err;
  testing::Run at = Replay(rec.journal, {"state", "--at=", "cachedimage/base"});
  EXPECT_EQ(at.exit_code, 2);
  EXPECT_NE(at.err.find("give --at a value"), std::string::npos) << at.err;
  // The same flags with a value read as before.
  testing::Run ok = Replay("", {"--journal=" + rec.journal, "info"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST(BadInput, AnEmptyValueIsRefusedNotReadAsNoValue) {
  Recorded rec;
  // As `log --node "$NODE"` runs with NODE unset: not the whole log.
  testing::Run node = Replay(rec.journal, {"log", "--node", ""});
  EXPECT_EQ(node.exit_code, 2);
  EXPECT_NE(node.err.find("--node is empty"), std::string::npos) << node.err;
  EXPECT_TRUE(node.out.empty()) << node.out;
  testing::Run at = Replay(rec.journal, {"state", "--at", ""});
  EXPECT_EQ(at.exit_code, 2);
  EXPECT_NE(at.err.find("--at is empty"), std::string::npos) << at.err;
  // CLI11's own complaints are said as drop-replay's others are.
  testing::Run twice = Replay(rec.journal, {"state", "--at", "+1s", "--at", "+2s"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_TRUE(twice.err.starts_with("drop-replay: --at: ")) << twice.err;
  testing::Run object = Replay(rec.journal, {"explain", ""});
  EXPECT_EQ(object.exit_code, 2);
  EXPECT_NE(object.err.find("the object argument is empty"), std::string::npos) << object.err;
}

TEST(BadInput, DamagedKeysOrMetaAreAnErrorNotAnEmptyOrCleanJournal) {
  struct Case {
    const char* name;
    std::function<rocksdb::Status(journal::Store&, rocksdb::DB*)> damage;
    const char* says;
  };
  const std::vector<Case> cases = {
      {"a key that is no sequence number",
       [](journal::Store& s, rocksdb::DB* db) {
         return db->Put(rocksdb::WriteOptions(), s.entries(), "\x05", "");
       },
       "the last key of the entries column family is 1 bytes, not a sequence number"},
      {"an entry at 0",
       [](journal::Store& s, rocksdb::DB* db) {
         return db->Put(rocksdb::WriteOptions(), s.entries(), journal::EncodeSeq(0), "");
       },
       "sequence number 0, which drop never writes"},
      {"no schema version",
       [](journal::Store& s, rocksdb::DB* db) {
         return db->Delete(rocksdb::WriteOptions(), s.meta(),
                           std::string(journal::kSchemaVersionKey));
       },
       "holds no schema version"},
      {"a schema version past 32 bits",
       [](journal::Store& s, rocksdb::DB* db) {
         return db->Put(rocksdb::WriteOptions(), s.meta(), std::string(journal::kSchemaVersionKey),
                        "4294967298");
       },
       "meta schema_version is 4294967298, not a schema version"},
      {"a snapshot record without a time",
       [](journal::Store& s, rocksdb::DB* db) {
         return db->Put(rocksdb::WriteOptions(), s.meta(),
                        std::string(journal::kSnapshotTimePrefix) + journal::EncodeSeq(5), "soon");
       },
       "the record of the snapshot at entry 5 holds no time (its time is \"soon\", not a number)"},
  };
  for (const Case& c : cases) {
    Recorded rec;
    Damage(rec, c.damage);
    for (const char* cmd : {"info", "verify", "export"}) {
      testing::Run r = Replay(rec.journal, {cmd});
      EXPECT_EQ(r.exit_code, 2) << c.name << ", " << cmd << ": " << r.out;
      EXPECT_NE(r.err.find(c.says), std::string::npos) << c.name << ", " << cmd << ": " << r.err;
    }
  }
}

TEST(BadInput, ADamagedWriteAheadLogIsReadUpToTheDamageWithSalvage) {
  Recorded rec;
  testing::Run whole = Replay(rec.journal, {"info", "-o", "json"});
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  const int64_t last = boost::json::parse(whole.out).at("lastSeq").as_int64();
  std::filesystem::path wal;
  for (const auto& f : std::filesystem::directory_iterator(rec.journal)) {
    if (f.path().extension() == ".log" &&
        (wal.empty() || f.file_size() > std::filesystem::file_size(wal))) {
      wal = f.path();
    }
  }
  ASSERT_FALSE(wal.empty());
  ASSERT_GT(std::filesystem::file_size(wal), 8u * 1024) << "the test needs a WAL of many batches";
  {
    std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(wal) / 2));
    f.write("\xde\xad\xbe\xef\xde\xad\xbe\xef", 8);
  }
  testing::Run refused = Replay(rec.journal, {"info"});
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("write-ahead log " + wal.filename().string() + " is damaged"),
            std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("drop-replay --salvage reads the entries before the damage"),
            std::string::npos)
      << refused.err;
  std::string before = testing::Fingerprint(rec.journal);
  testing::Run salvaged = Replay(rec.journal, {"--salvage", "info", "-o", "json"});
  ASSERT_EQ(salvaged.exit_code, 0) << salvaged.err;
  boost::json::value info = boost::json::parse(salvaged.out);
  EXPECT_EQ(info.at("firstSeq").as_int64(), 1);
  EXPECT_GT(info.at("lastSeq").as_int64(), 1);
  EXPECT_LT(info.at("lastSeq").as_int64(), last);
  EXPECT_NE(salvaged.err.find("--salvage: read entries 1.." +
                              std::to_string(info.at("lastSeq").as_int64()) + ", "),
            std::string::npos)
      << salvaged.err;
  EXPECT_NE(
      salvaged.err.find(", up to the damage; what the journal recorded after it is not shown"),
      std::string::npos)
      << salvaged.err;
  testing::Run whole_salvaged = Replay(Recorded().journal, {"--salvage", "info"});
  EXPECT_EQ(whole_salvaged.exit_code, 0);
  EXPECT_NE(whole_salvaged.err.find("--salvage: no damage found; every entry was read"),
            std::string::npos)
      << whole_salvaged.err;
  EXPECT_EQ(Replay(rec.journal, {"--salvage", "verify"}).exit_code, 0);
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);
}

TEST(BadInput, OutputIsNeverWrittenIntoTheJournalAndAFailedWriteIsExitTwo) {
  Recorded rec;
  std::string before = testing::Fingerprint(rec.journal);
  for (const std::vector<std::string>& c :
       std::vector<std::vector<std::string>>{{"timeline", "-o", rec.journal + "/CURRENT"},
                                             {"timeline", "-o", rec.journal + "/../j/t.html"},
                                             {"simulate", "--record", rec.journal + "/sim"}}) {
    testing::Run r = Replay(rec.journal, c);
    EXPECT_EQ(r.exit_code, 2) << c[2];
    EXPECT_NE(r.err.find("lies inside the journal"), std::string::npos) << r.err;
  }
  // A symlink is written through, one to a file not yet there too.
  TempDir out;
  std::filesystem::create_symlink(rec.journal + "/t.html", out / "dangling.html");
  testing::Run dangling = Replay(rec.journal, {"timeline", "-o", out / "dangling.html"});
  EXPECT_EQ(dangling.exit_code, 2) << dangling.out;
  EXPECT_NE(dangling.err.find("lies inside the journal"), std::string::npos) << dangling.err;
  EXPECT_FALSE(std::filesystem::exists(rec.journal + "/t.html"));
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);

  // A bind mount shows the journal under another name: it is still the journal. The mount is
  // made in a mount namespace of the command's own, where the machine allows one.
  if (std::system("unshare -m --propagation private true 2>/dev/null") == 0) {
    const std::string view = out / "view";
    const std::string inner = "mount --bind " + testing::Quote(rec.journal) + " " +
                              testing::Quote(view) + " && exec " + testing::Quote(DROP_REPLAY) +
                              " -j " + testing::Quote(rec.journal) + " timeline -o " +
                              testing::Quote(view + "/t.html");
    std::filesystem::create_directory(view);
    const std::string mounted = "unshare -m --propagation private sh -c " + testing::Quote(inner) +
                                " >/dev/null 2>" + testing::Quote(out / "err");
    int status = std::system(mounted.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << mounted;
    std::string err = testing::ReadFile(out / "err");
    EXPECT_NE(err.find("lies inside the journal"), std::string::npos) << err;
    EXPECT_EQ(testing::Fingerprint(rec.journal), before);
  }

  // A device is written to, not replaced by a file renamed over it.
  testing::Run null = Replay(rec.journal, {"timeline", "-o", "/dev/null"});
  EXPECT_EQ(null.exit_code, 0) << null.err;
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  // Output that does not reach its file is an error, wherever it goes.
  if (!std::filesystem::is_character_file("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  std::string cmd = testing::Quote(DROP_REPLAY) + " -j " + testing::Quote(rec.journal);
  for (const char* c : {" export >/dev/full", " info >&-", " timeline -o /dev/full"}) {
    int status = std::system((cmd + c + " 2>/dev/null").c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << c;
  }
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/full"));
}

TEST(ReadOnly, NoCommandChangesAByteOfTheJournal) {
  Recorded rec;
  std::string before = testing::Fingerprint(rec.journal);
  TempDir out;
  std::vector<std::vector<std::string>> commands = {
      {"info"},
      {"log"},
      {"log", "--object", "cachedimage/web", "-o", "yaml"},
      {"state", "--at", "+10s"},
      {"state", "cachedimage/web"},
      {"explain", "cachedimage/web"},
      {"verify"},
      {"diff", "--from", "+1s", "--to", "-0s"},
      {"timeline", "-o", out / "t.html"},
      {"simulate", "--set", "maxConcurrentNodes=5"},
      {"export"},
      {"state", "--at", "2020-01-01T00:00:00Z"},
      {"explain", "cachedimage/nope"},
  };
  for (const auto& c : commands) {
    testing::Run r = Replay(rec.journal, c);
    EXPECT_LE(r.exit_code, 2) << c[0];
  }
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);
}

TEST(Live, AJournalItsWriterHoldsOpenIsReadBesideIt) {
  TempDir dir;
  const std::vector<v1::Entry> entries = testing::DemoJournal();
  journal::JournalOptions o;
  o.dir = dir / "j";
  auto j = journal::Journal::Open(o);
  ASSERT_TRUE(j.ok());
  v1::State state = InitialState();
  auto write = [&](size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) {
      ASSERT_TRUE((*j)->Append(entries[i]).ok());
      Apply(entries[i], &state);
    }
    ASSERT_TRUE((*j)->Commit(state).ok());
  };
  // Whole input groups: up to the first input after the middle.
  size_t cut = entries.size() / 2;
  while (IsDecision(entries[cut]))
    ++cut;
  write(0, cut);
  testing::Run r = Replay(dir / "j", {"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("live: followed as a secondary"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("entries:          1.." + std::to_string(cut) + " "), std::string::npos)
      << r.out;
  testing::Run v = Replay(dir / "j", {"verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  write(cut, entries.size());
  testing::Run later = Replay(dir / "j", {"info"});
  EXPECT_NE(later.out.find("entries:          1.." + std::to_string(entries.size())),
            std::string::npos)
      << later.out;
}

// An interrupt while following a live journal leaves no temporary directory behind.
TEST(Live, AnInterruptTakesTheTemporaryDirectoryWithIt) {
  TempDir dir;
  journal::JournalOptions o;
  o.dir = dir / "j";
  auto j = journal::Journal::Open(o);  // held open: drop-replay follows it as a secondary
  ASSERT_TRUE(j.ok());
  v1::State state = InitialState();
  for (const v1::Entry& e : testing::DemoJournal()) {
    ASSERT_TRUE((*j)->Append(e).ok());
    Apply(e, &state);
  }
  ASSERT_TRUE((*j)->Commit(state).ok());
  std::filesystem::create_directory(dir / "tmp");
  // export into a pipe nobody reads: it blocks once the pipe is full, and is stopped there. (A
  // background job of a script ignores SIGINT; SIGTERM takes the same path as Ctrl-C.)
  const std::string script = "cd " + testing::Quote(dir.path()) +
                             "; mkfifo out; exec 3<>out; TMPDIR=tmp timeout 60 " +
                             testing::Quote(DROP_REPLAY) +
                             " -j j export >out 2>err & p=$!; sleep 2; "
                             "echo during=$(ls tmp | wc -l); pkill -TERM -P $p; wait $p; "
                             "echo exit=$?; echo after=$(ls tmp | wc -l)";
  FILE* sh = ::popen(("bash -c " + testing::Quote(script)).c_str(), "r");
  ASSERT_NE(sh, nullptr);
  std::string got;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, sh))
    got.append(buf, n);
  ::pclose(sh);
  EXPECT_EQ(got, "during=1\nexit=143\nafter=0\n") << testing::ReadFile(dir / "err");
}

// The sequence numbers of the entries `log ... -o json` printed.
std::vector<uint64_t> LoggedSeqs(const testing::Run& r) {
  std::vector<uint64_t> seqs;
  if (r.exit_code != 0) return seqs;
  boost::json::value doc = boost::json::parse(r.out);
  for (const boost::json::value& item : doc.at("items").as_array())
    seqs.push_back(item.at("seq").to_number<uint64_t>());
  return seqs;
}

bool Holds(const std::vector<uint64_t>& seqs, uint64_t seq) {
  return std::find(seqs.begin(), seqs.end(), seq) != seqs.end();
}

// A reconcile's trigger is shown before its entries only when it passes the other filters too.
TEST(Cli, LogByReconcileIdFiltersItsTriggerAsAnyOtherEntry) {
  const std::vector<v1::Entry> entries = testing::DemoJournal();
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(entries, dir / "j").ok());
  auto at = [&](uint64_t seq) -> const v1::Entry* {
    for (const v1::Entry& e : entries) {
      if (e.seq() == seq) return &e;
    }
    return nullptr;
  };
  // A reconcile that started a pull on a node, triggered by an input that names no node (a
  // timer, the end of a relist, a CachedImage's or a PullPolicy's watch event).
  uint64_t id = 0, trigger = 0;
  std::string node;
  for (const v1::Entry& e : entries) {
    if (!e.has_pacing() || e.pacing().verdict() != v1::START || e.reconcile_id() == 0) continue;
    const v1::Entry* start = at(e.reconcile_id());
    const v1::Entry* t = start != nullptr ? at(start->reconcile().trigger_seq()) : nullptr;
    if (t != nullptr && (t->has_timer() || t->has_relist_end() ||
                         (t->has_watch() && !t->watch().has_node() && !t->watch().has_pod()))) {
      id = e.reconcile_id();
      trigger = t->seq();
      node = e.pacing().node();
      break;
    }
  }
  ASSERT_NE(id, 0u) << "no pull started on an input that names no node";
  auto log = [&](std::vector<std::string> filter) {
    std::vector<std::string> args = {"log", "--reconcile-id", std::to_string(id), "-o", "json"};
    args.insert(args.end(), filter.begin(), filter.end());
    testing::Run r = Replay(dir / "j", args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return LoggedSeqs(r);
  };
  std::vector<uint64_t> all = log({});
  ASSERT_FALSE(all.empty());
  EXPECT_EQ(all.front(), trigger);
  EXPECT_EQ(log({"--kind", "input"}), std::vector<uint64_t>{trigger});
  for (const std::vector<std::string>& filter : std::vector<std::vector<std::string>>{
           {"--kind", "pacing"}, {"--node", node}, {"--from", std::to_string(trigger)}}) {
    std::vector<uint64_t> seqs = log(filter);
    EXPECT_FALSE(seqs.empty()) << filter[0];
    EXPECT_FALSE(Holds(seqs, trigger))
        << filter[0] << " " << filter[1] << " kept the trigger, entry " << trigger;
    for (uint64_t seq : seqs)
      EXPECT_TRUE(Holds(all, seq)) << filter[0] << ": entry " << seq;
  }
}

// A decision that waits on a pull in flight is one of that pull's pod's entries.
TEST(Cli, LogOfAPodShowsTheDecisionsThatWaitOnIt) {
  const std::vector<v1::Entry> entries = testing::DemoJournal();
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(entries, dir / "j").ok());
  auto wait = std::find_if(entries.begin(), entries.end(), [](const v1::Entry& e) {
    return e.has_pacing() && !e.pacing().in_flight_pod().empty();
  });
  ASSERT_NE(wait, entries.end()) << "no decision waits on a pull in flight";
  testing::Run r =
      Replay(dir / "j", {"log", "--object", "pod/" + wait->pacing().in_flight_pod(), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Holds(LoggedSeqs(r), wait->seq()))
      << "entry " << wait->seq() << " waits on pod " << wait->pacing().in_flight_pod();
}

// A status write that lists a node as failed is one of that node's entries, as the Event that
// names it is.
TEST(Cli, LogOfANodeShowsTheStatusWritesThatListIt) {
  const std::vector<v1::Entry> entries = testing::DemoJournal();
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(entries, dir / "j").ok());
  auto write = std::find_if(entries.begin(), entries.end(), [](const v1::Entry& e) {
    return e.has_action() && e.action().has_patch_status() &&
           e.action().patch_status().status().failed_nodes_size() > 1;
  });
  ASSERT_NE(write, entries.end()) << "no status write lists two failed nodes";
  for (const v1::FailedNode& f : write->action().patch_status().status().failed_nodes()) {
    testing::Run r = Replay(dir / "j", {"log", "--node", f.node(), "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(Holds(LoggedSeqs(r), write->seq()))
        << "entry " << write->seq() << " lists node " << f.node() << " as failed";
  }
}

// A write to standard output that fails says why, whichever command wrote; and export stops at
// it, rather than reading on through the journal to say so at the end.
TEST(BadInput, AFailedWriteSaysWhyAndEndsTheExport) {
  if (!std::filesystem::is_character_file("/dev/full")) GTEST_SKIP() << "no /dev/full here";
  Recorded rec;
  auto to_full = [&](const std::string& command) {
    TempDir io;
    std::string cmd = testing::Quote(DROP_REPLAY) + " -j " + testing::Quote(rec.journal) + " " +
                      command + " >/dev/full 2>" + testing::Quote(io / "err");
    int status = std::system(cmd.c_str());
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << command;
    return testing::ReadFile(io / "err");
  };
  const std::string full = "drop-replay: cannot write the output: No space left on device\n";
  for (const char* command : {"export", "log", "log -o json", "info"})
    EXPECT_EQ(to_full(command), full) << command;
  // An entry missing near the end: an export that read on past the failed write would reach it.
  const uint64_t last = rec.world.journal().size();
  Damage(rec, [&](journal::Store& s, rocksdb::DB* db) {
    return db->Delete(rocksdb::WriteOptions(), s.entries(), journal::EncodeSeq(last - 1));
  });
  testing::Run read_on = Replay(rec.journal, {"export"});
  EXPECT_EQ(read_on.exit_code, 2);
  EXPECT_NE(read_on.err.find("damaged"), std::string::npos) << read_on.err;
  EXPECT_EQ(to_full("export"), full);
}

// A journal with no entries (a salvaged one, say) is said to be so by log and export as by the
// other commands, whatever else is wrong with the command line.
TEST(BadInput, LogAndExportOfAJournalWithNoEntriesSaySo) {
  TempDir dir;
  journal::JournalOptions o;
  o.dir = dir / "j";
  ASSERT_TRUE(journal::Journal::Open(o).ok());
  for (const std::vector<std::string>& c :
       std::vector<std::vector<std::string>>{{"log"},
                                             {"export"},
                                             {"log", "--since", "garbage"},
                                             {"export", "--since", "garbage"},
                                             {"log", "--until", "+5s", "-o", "json"}}) {
    testing::Run r = Replay(dir / "j", c);
    EXPECT_EQ(r.exit_code, 2) << c[0] << " " << c.size();
    EXPECT_EQ(r.out, "") << c[0];
    EXPECT_NE(r.err.find("has no entries"), std::string::npos) << c[0] << ": " << r.err;
  }
}

// Points as the user writes them: a form that does not name a moment is malformed, exit 2, and
// the message names the forms; a range may start before the journal.

// from_chars read "-9" in "08:01:-9" as a field: 08:00:51.
TEST(BadInput, ATimeOfDayWithASignedOrOutOfRangeFieldIsMalformed) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  ASSERT_EQ(Replay(dir / "j", {"state", "--at", "08:00:51"}).exit_code, 0) << "inside the journal";
  for (const char* bad : {"08:01:-9", "08:00:-1", "08:-1:30", "08:00:+1", "24:00:00", "08:60:00",
                          "08:00:60", "8:00:51", "08:00", "08:00:51.", "08:00:51.1234"}) {
    testing::Run r = Replay(dir / "j", {"state", "--at", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out;
    EXPECT_NE(r.err.find(std::string("--at ") + bad +
                         ": malformed time of day; write HH:MM:SS or "
                         "HH:MM:SS.mmm, hours 00-23 and minutes and seconds 00-59"),
              std::string::npos)
        << bad << ": " << r.err;
  }
  EXPECT_NE(Replay(dir / "j", {"log", "--since", "08:-1:30"}).err.find("malformed time of day"),
            std::string::npos);
  // A sign in front makes an offset, and this one is not a duration.
  EXPECT_EQ(Replay(dir / "j", {"state", "--at", "-8:00:51"}).exit_code, 2);
  testing::Run millis = Replay(dir / "j", {"state", "--at", "08:00:51.25"});
  EXPECT_TRUE(millis.out.starts_with("State at 2027-01-15T08:00:51.250Z, ")) << millis.out;
}

// ParseDuration takes a sign of its own: "--5s" counted forward from the end.
TEST(BadInput, AnOffsetWithTwoSignsIsMalformed) {
  Recorded rec;
  for (const char* bad : {"--5s", "-+5s", "+-0s", "--0s", "++1s"}) {
    testing::Run r = Replay(rec.journal, {"state", "--at", bad});
    EXPECT_EQ(r.exit_code, 2) << bad << ": " << r.out;
    EXPECT_NE(r.err.find(std::string("--at ") + bad +
                         ": malformed offset, a sign too many; +DURATION counts from the "
                         "journal's start, -DURATION back from its end"),
              std::string::npos)
        << bad << ": " << r.err;
  }
  EXPECT_EQ(Replay(rec.journal, {"state", "--at", "-0s"}).exit_code, 0);
  EXPECT_EQ(Replay(rec.journal, {"state", "--at", "+1s"}).exit_code, 0);
}

// Both name 2027-01-15T08:00:02Z once carried over; the user typed something else.
TEST(BadInput, AnImpossibleDateOrOffsetIsRefusedNamingWhatIsWrong) {
  Recorded rec;
  ASSERT_EQ(Replay(rec.journal, {"state", "--at", "2027-01-15T08:00:02Z"}).exit_code, 0);
  testing::Run offset = Replay(rec.journal, {"state", "--at", "2027-01-14T08:00:02-24:00"});
  EXPECT_EQ(offset.exit_code, 2) << offset.out;
  EXPECT_NE(offset.err.find("the UTC offset -24:00 is out of range"), std::string::npos)
      << offset.err;
  testing::Run minutes = Replay(rec.journal, {"log", "--since", "2027-01-15T07:00:02-00:60"});
  EXPECT_EQ(minutes.exit_code, 2) << minutes.out;
  EXPECT_NE(minutes.err.find("the UTC offset -00:60 is out of range"), std::string::npos)
      << minutes.err;
  testing::Run day = Replay(rec.journal, {"diff", "--from", "2026-11-31T16:33:00Z", "--to", "5"});
  EXPECT_EQ(day.exit_code, 2) << day.out;
  EXPECT_NE(day.err.find("day 31 is past the end of 2026-11, which has 30 days"), std::string::npos)
      << day.err;
}

// The first entry is in the state at its own time, so a range from that time starts after it,
// as from any entry's time; a range from any time before it starts at the journal's start.
TEST(Cli, ARangeFromATimeBeforeTheJournalStartsAtItsFirstEntry) {
  Recorded rec;
  const std::vector<v1::Entry>& entries = rec.world.journal();
  const int64_t t0 = entries.front().time_ms();
  uint64_t after_t0 = 1;  // the first entry recorded after t0
  while (entries[after_t0 - 1].time_ms() == t0)
    ++after_t0;
  ASSERT_LT(entries.back().time_ms() - t0, 5 * 60 * kSec) << "a journal shorter than -5m";
  auto first_logged = [&](const std::string& since) -> uint64_t {
    testing::Run r = Replay(rec.journal, {"log", "--since", since, "-o", "json"});
    EXPECT_EQ(r.exit_code, 0) << since << ": " << r.err;
    if (r.exit_code != 0) return 0;
    return boost::json::parse(r.out).at("items").at(0).at("seq").to_number<uint64_t>();
  };
  EXPECT_EQ(first_logged(FormatTimeMillis(t0 - 1)), 1u);
  EXPECT_EQ(first_logged("-5m"), 1u);
  EXPECT_EQ(first_logged("2020-01-01T00:00:00Z"), 1u);
  EXPECT_EQ(first_logged(FormatTimeMillis(t0)), after_t0);
  EXPECT_EQ(first_logged("0"), 1u);
  EXPECT_EQ(first_logged("1"), 2u);  // a sequence number stays exclusive

  testing::Run exported = Replay(rec.journal, {"export", "--from", FormatTimeMillis(t0 - 1)});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(exported.out, Replay(rec.journal, {"export"}).out);
  testing::Run diff = Replay(rec.journal, {"diff", "--from", "-5m", "--to", "5"});
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_EQ(diff.out, Replay(rec.journal, {"diff", "--from", "0", "--to", "5"}).out);
  testing::Run verify = Replay(rec.journal, {"verify", "--from", "-5m", "--to", "5"});
  EXPECT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("Entries 1..5 "), std::string::npos) << verify.out;
  testing::Run timeline = Replay(rec.journal, {"timeline", "--since", "-5m"});
  EXPECT_EQ(timeline.exit_code, 0) << timeline.err;
  EXPECT_EQ(timeline.out, Replay(rec.journal, {"timeline"}).out);

  // A state is never recorded before the journal: --at there is refused, and the message names
  // the earliest point.
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"state", "--at", FormatTimeMillis(t0 - 1)},
        std::vector<std::string>{"explain", "cachedimage/web", "--at", "-5m"}}) {
    testing::Run r = Replay(rec.journal, args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.out;
    EXPECT_NE(r.err.find(") is outside the journal: the journal holds entries 1.."),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("; it holds no state before " + FormatTimeMillis(t0) +
                         " (the earliest point is --at 0, the empty state before entry 1)"),
              std::string::npos)
        << r.err;
  }
}

// A copy that left CURRENT out holds the rest of a journal: it is named an incomplete copy, with
// what it holds, not "not a drop journal". One that left out a table file or the MANIFEST names
// the file and says to copy again. An empty directory is still not a journal.
TEST(BadInput, ACopyWithoutOneOfItsFilesIsNamedAnIncompleteCopy) {
  Recorded rec;
  {
    // Its entries in table files, as a journal that has run a while holds them.
    journal::Store::Options rw;
    rw.mode = journal::Store::Mode::kReadWrite;
    auto store = journal::Store::Open(rec.journal, rw);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)
                    ->db()
                    ->Flush(rocksdb::FlushOptions(),
                            {(*store)->entries(), (*store)->snapshots(), (*store)->meta()})
                    .ok());
  }
  TempDir dir;
  const std::string copy = dir / "copy";
  std::filesystem::copy(rec.journal, copy, std::filesystem::copy_options::recursive);
  std::filesystem::remove(copy + "/CURRENT");
  std::string manifest;
  int tables = 0;
  for (const auto& f : std::filesystem::directory_iterator(copy)) {
    const std::string name = f.path().filename().string();
    if (name.starts_with("MANIFEST-")) manifest = name;
    if (f.path().extension() == ".sst") ++tables;
  }
  ASSERT_FALSE(manifest.empty());
  ASSERT_GT(tables, 0) << "the test needs a journal with table files";
  const std::string before = testing::Fingerprint(copy);
  testing::Run r = Replay(copy, {"info"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_NE(r.err.find("journal " + copy + ": holds " + manifest), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(std::to_string(tables) + (tables == 1 ? " table file" : " table files")),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(" but no CURRENT file (the name of the MANIFEST to read): an incomplete "
                       "copy of a journal; copy the whole directory again, CURRENT with it, or "
                       "take a RocksDB checkpoint of the journal (a checkpoint always has "
                       "CURRENT)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("not a drop journal"), std::string::npos) << r.err;
  EXPECT_EQ(testing::Fingerprint(copy), before);

  // A copy that left out a table file, or the MANIFEST: named, and copied again.
  const std::string again = ". " + std::string(journal::kCopyAgain);
  std::string table;
  for (const auto& f : std::filesystem::directory_iterator(rec.journal)) {
    if (f.path().extension() == ".sst") table = f.path().filename().string();
  }
  for (const std::string& left_out : {table, manifest}) {
    const std::string part = dir / ("without-" + left_out);
    std::filesystem::copy(rec.journal, part, std::filesystem::copy_options::recursive);
    std::filesystem::remove(part + "/" + left_out);
    testing::Run missing = Replay(part, {"info"});
    EXPECT_EQ(missing.exit_code, 2) << missing.out;
    EXPECT_NE(missing.err.find(left_out == table ? "table file " + table + " is missing: "
                                                 : "cannot read its " + manifest + " (the list"),
              std::string::npos)
        << missing.err;
    EXPECT_TRUE(missing.err.ends_with(again + "\n")) << missing.err;
  }

  std::filesystem::create_directory(dir / "empty");
  testing::Run empty = Replay(dir / "empty", {"info"});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("not a drop journal (no RocksDB CURRENT file); give the directory the "
                           "operator writes its journal to"),
            std::string::npos)
      << empty.err;
}

// $DROP_JOURNAL set for the commands a test runs, as it was again after the test.
class JournalVariable {
 public:
  explicit JournalVariable(const std::string& value) {
    if (const char* was = std::getenv("DROP_JOURNAL")) was_ = was;
    setenv("DROP_JOURNAL", value.c_str(), 1);
  }
  ~JournalVariable() {
    if (was_) {
      setenv("DROP_JOURNAL", was_->c_str(), 1);
    } else {
      unsetenv("DROP_JOURNAL");
    }
  }
  JournalVariable(const JournalVariable&) = delete;
  JournalVariable& operator=(const JournalVariable&) = delete;

 private:
  std::optional<std::string> was_;
};

// A path the user did not type on the command line is named with where it came from; -j, which
// wins over the variable, is not.
TEST(BadInput, AnErrorAboutAJournalFromTheVariableSaysSo) {
  Recorded rec;
  TempDir dir;
  {
    JournalVariable variable(dir / "nope");
    testing::Run missing = Replay("", {"info"});
    EXPECT_EQ(missing.exit_code, 2);
    EXPECT_NE(missing.err.find("journal " + dir / "nope" +
                               " (from $DROP_JOURNAL): no such directory; give the directory"),
              std::string::npos)
        << missing.err;
    testing::Run given = Replay(dir / "other", {"info"});
    EXPECT_EQ(given.exit_code, 2);
    EXPECT_NE(given.err.find("journal " + dir / "other" + ": no such directory"), std::string::npos)
        << given.err;
    EXPECT_EQ(given.err.find("DROP_JOURNAL"), std::string::npos) << given.err;
  }
  {
    // Errors after the journal is found, and about paths beside it, say it too.
    JournalVariable variable(rec.journal);
    const std::string before = testing::Fingerprint(rec.journal);
    testing::Run inside = Replay("", {"timeline", "-o", rec.journal + "/t.html"});
    EXPECT_EQ(inside.exit_code, 2);
    EXPECT_NE(inside.err.find("lies inside the journal " + rec.journal +
                              " (from $DROP_JOURNAL), which drop-replay never writes to"),
              std::string::npos)
        << inside.err;
    EXPECT_EQ(testing::Fingerprint(rec.journal), before);
  }
  {
    JournalVariable variable("");
    testing::Run empty = Replay("", {"info"});
    EXPECT_EQ(empty.exit_code, 2);
    EXPECT_NE(empty.err.find("no journal given ($DROP_JOURNAL is set but empty): pass --journal "
                             "DIR (-j)"),
              std::string::npos)
        << empty.err;
  }
}

// CLI11's own words never reach the user: "--since: 1 required TEXT missing" named neither the
// flag typed nor what it takes.
void ExpectNoCli11Words(const testing::Run& r) {
  for (const char* words :
       {"required", "TEXT", "At Most", "Expected", "Could not convert", "A subcommand"}) {
    EXPECT_EQ(r.err.find(words), std::string::npos) << r.err;
  }
}

// A flag at the end, or followed by another flag (which CLI11 would take for its value), is named
// as typed, with what it takes.
TEST(BadInput, AFlagWithoutItsValueIsNamedAsTypedWithWhatItTakes) {
  Recorded rec;
  const std::string point =
      "; give a point: a sequence number, an RFC 3339 time (2027-01-15T08:00:00Z), a time of "
      "day (10:02:13), or an offset (+90s from the start, -5m from the end)";
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"log", "--from"}, "--from: no value after it" + point},
      {{"log", "--until"}, "--until: no value after it" + point},
      {{"log", "--from", "--kind", "outcome"},
       "--from: no value after it (the next word, --kind, is a flag)" + point},
      {{"diff", "--from", "--to", "5"},
       "--from: no value after it (the next word, --to, is a flag)" + point},
      {{"state", "--at", "--help"},
       "--at: no value after it (the next word, --help, is a flag)" + point},
      {{"verify", "--jobs"},
       "--jobs: no value after it; give a number of threads, a whole number of at least 1"},
      {{"log", "--limit"}, "--limit: no value after it; give a number of entries"},
      {{"log", "-k"}, "-k: no value after it; give an entry kind: input, decision, action"},
      {{"log", "--node", "-o", "json"},
       "--node: no value after it (the next word, -o, is a flag); give a node's name"},
      {{"info", "-o"}, "-o: no value after it; give an output format: yaml or json"},
      {{"timeline", "-o"}, "-o: no value after it; give the HTML file to write (-o rollout.html)"},
      {{"simulate", "--record"},
       "--record: no value after it; give a new directory for the simulated journal"},
  };
  const std::string before = testing::Fingerprint(rec.journal);
  for (const Case& c : cases) {
    testing::Run r = Replay(rec.journal, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args[1];
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("drop-replay: " + c.says), std::string::npos) << r.err;
    ExpectNoCli11Words(r);
  }
  // The journal flag: at the end, or before the command, as `-j $DIR info` runs with DIR unset.
  testing::Run end = Replay("", {"info", "-j"});
  EXPECT_EQ(end.exit_code, 2);
  EXPECT_NE(end.err.find("-j: no value after it; give the journal directory: the operator's "
                         "--journal-dir, or a copy of it"),
            std::string::npos)
      << end.err;
  testing::Run command = Replay("", {"-j", "info"});
  EXPECT_EQ(command.exit_code, 2);
  EXPECT_NE(command.err.find("-j: no value after it (the next word, info, is the command); give "
                             "the journal directory"),
            std::string::npos)
      << command.err;
  ExpectNoCli11Words(command);
  testing::Run ends = Replay("", {"-j", "--", "info"});  // CLI11 takes "--" for the directory
  EXPECT_EQ(ends.exit_code, 2);
  EXPECT_NE(ends.err.find("-j: no value after it (the next word, --, ends the flags); give the "
                          "journal directory"),
            std::string::npos)
      << ends.err;
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);
  // A switch takes no value, and an offset is no flag.
  EXPECT_EQ(Replay(rec.journal, {"verify", "--walk", "-o", "json"}).exit_code, 0);
  EXPECT_EQ(Replay("", {"--salvage", "-j", rec.journal, "info"}).exit_code, 0);
  EXPECT_EQ(Replay(rec.journal, {"log", "--from", "-5m", "--limit", "1"}).exit_code, 0);
}

// CLI11's other refusals, said in drop-replay's words: a flag given twice, what a command needs,
// no command, a number too large, a value for a switch, a journal given without -j.
TEST(BadInput, CommandLineMistakesAreSaidInDropReplaysWords) {
  Recorded rec;
  const std::string point =
      "a point: a sequence number, an RFC 3339 time (2027-01-15T08:00:00Z), a time of day "
      "(10:02:13), or an offset (+90s from the start, -5m from the end)";
  struct Case {
    std::string journal;
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {rec.journal,
       {"state", "--at", "+1s", "--at", "+2s"},
       "--at: given twice (+1s, +2s); give it once"},
      {rec.journal,
       {"export", "--since", "1", "--from", "2"},
       "--since: given twice (1, 2), as --since and --from, one flag by two names; give it once"},
      {rec.journal,
       {"timeline", "-o", "a.html", "-o", "b.html"},
       "-o: given twice (a.html, b.html); give it once"},
      {rec.journal, {"diff"}, "diff needs --from and --to; give each " + point},
      {rec.journal, {"diff", "--to", "5", "x"}, "diff needs --from; give " + point},
      {rec.journal,
       {"explain"},
       "explain needs its object argument; give a CachedImage: cachedimage/NAME (or NAME)"},
      {rec.journal, {}, "no command given; the commands are info, log, state, explain, verify, "},
      {rec.journal,
       {"verify", "--jobs", "99999999999"},
       "--jobs 99999999999: more than the flag holds (at most 2147483647); give a number of "
       "threads"},
      {rec.journal,
       {"--salvage=maybe", "info"},
       "--salvage=maybe: --salvage takes no value; give it alone, or leave it out"},
      {"",
       {rec.journal, "info"},
       "'" + rec.journal + "' comes before the command info; to read the journal in " +
           rec.journal + ", give it with -j (drop-replay -j " + rec.journal + " info)"},
  };
  const std::string before = testing::Fingerprint(rec.journal);
  for (const Case& c : cases) {
    testing::Run r = Replay(c.journal, c.args);
    EXPECT_EQ(r.exit_code, 2) << c.says;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("drop-replay: " + c.says), std::string::npos) << r.err;
    ExpectNoCli11Words(r);
  }
  EXPECT_EQ(testing::Fingerprint(rec.journal), before);
}

// The timeline is written beside its file and renamed into place. The temporary's name is made
// new each time: a file left at the name an earlier drop-replay used (FILE.part), a symlink or a
// hard link into the journal, is never opened. Both overwrote the journal's CURRENT once.
TEST(BadInput, TheTimelinesTemporaryFileNeverLeadsIntoTheJournal) {
  Recorded rec;
  TempDir out;
  const std::string before = testing::Fingerprint(rec.journal);
  std::filesystem::create_symlink(rec.journal + "/CURRENT", out / "t.html.part");
  std::filesystem::create_hard_link(rec.journal + "/CURRENT", out / "u.html.part");
  for (const char* name : {"t.html", "u.html"}) {
    testing::Run run = Replay(rec.journal, {"timeline", "-o", out / name});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    EXPECT_TRUE(testing::ReadFile(out / name).starts_with("<!doctype html>")) << name;
    EXPECT_EQ(testing::Fingerprint(rec.journal), before) << name;
  }
  std::vector<std::string> files;  // the links as they were, the timelines, nothing else
  for (const auto& f : std::filesystem::directory_iterator(out.path()))
    files.push_back(f.path().filename());
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"t.html", "t.html.part", "u.html", "u.html.part"}));
  EXPECT_EQ(Replay(rec.journal, {"verify"}).exit_code, 0);
}

// An object no entry of the journal names is a mistake (a misspelt name?): exit code 2, and the
// names of its kind the journal does have, closest first. One the journal names elsewhere than
// asked, and the built-in policy, which always exists, only match nothing.
TEST(Cli, LogOfAnObjectNoEntryNamesIsAnErrorThatOffersTheClosestNames) {
  Recorded rec;
  const std::string holds = " (entries 1.." + std::to_string(rec.world.journal().size()) + ")";
  testing::Run image = Replay(rec.journal, {"log", "--object", "cachedimage/webb"});
  EXPECT_EQ(image.exit_code, 2) << image.err;
  EXPECT_TRUE(image.out.empty()) << image.out;
  EXPECT_NE(image.err.find("drop-replay: --object cachedimage/webb: the journal never names "
                           "cachedimage/webb" +
                           holds + "; did you mean cachedimage/web?\n"),
            std::string::npos)
      << image.err;
  // Three at most, by edit distance and then by name.
  testing::Run node = Replay(rec.journal, {"log", "--object", "Node/node-55", "-o", "json"});
  EXPECT_EQ(node.exit_code, 2) << node.err;
  EXPECT_NE(node.err.find("; did you mean node/node-5, node/node-0 or node/node-1?\n"),
            std::string::npos)
      << node.err;
  // --node names an object as much as --object does.
  testing::Run by_node = Replay(rec.journal, {"log", "--node", "node-55"});
  EXPECT_EQ(by_node.exit_code, 2) << by_node.err;
  EXPECT_NE(by_node.err.find("drop-replay: --node node-55: the journal never names node/node-55" +
                             holds + "; did you mean node/node-5, node/node-0 or node/node-1?\n"),
            std::string::npos)
      << by_node.err;
  // No name is offered that is not close: a pod's names are long hashes.
  testing::Run pod = Replay(rec.journal, {"log", "--object", "pod/nosuch"});
  EXPECT_EQ(pod.exit_code, 2) << pod.err;
  EXPECT_NE(pod.err.find(" pod names are in it, none close\n"), std::string::npos) << pod.err;
  // Named by the journal, not by the entries asked for: nothing matches, as before.
  testing::Run early = Replay(rec.journal, {"log", "--object", "cachedimage/web", "--until", "1"});
  EXPECT_EQ(early.exit_code, 0) << early.err;
  EXPECT_NE(early.err.find("No entries match, of entries 1..1."), std::string::npos) << early.err;
  for (const char* policy : {"pullpolicy/default", "pullpolicy/(default)"}) {
    testing::Run builtin = Replay(rec.journal, {"log", "--object", policy, "--until", "1"});
    EXPECT_EQ(builtin.exit_code, 0) << policy << ": " << builtin.err;
  }
}

// A journal that retention cut still knows the objects of the state its entries start from,
// though no entry it kept names them: a node that only stood there is no misspelling.
TEST(Cli, LogOfAnObjectOnlyTheRetainedStateHoldsMatchesNothingAndIsNoError) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(WriteRetentionCutDemo(dir / "j"));
  int unnamed = 0;  // nodes no kept entry names
  for (int i = 0; i < 20; ++i) {
    const std::string node = "node/cpu-" + std::to_string(i);
    testing::Run log = Replay(dir / "j", {"log", "--object", node});
    EXPECT_EQ(log.exit_code, 0) << node << ": " << log.err;
    unnamed += log.err.find("No entries match") != std::string::npos;
  }
  EXPECT_GT(unnamed, 0) << "every node is named by a kept entry: the case is not tested";
  testing::Run typo = Replay(dir / "j", {"log", "--object", "node/cpu-99"});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_NE(typo.err.find("neither the state it starts from nor entries "), std::string::npos)
      << typo.err;
}

// AGE is kubectl's, in whole units (apimachinery's HumanDuration), never tenths beside whole
// seconds; the notes say once what it counts back from.
TEST(Cli, LogAgesAreWholeUnitsCountedBackFromTheJournalsLastEntry) {
  TempDir dir;
  World w;
  for (int i = 0; i < 4; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("gentle", 1, 1300));
  w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 1700}; });
  w.Start();
  w.RunFor(30 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"log"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(r.out.starts_with("SEQ   TIME                       AGE ")) << r.out;
  const std::regex row("\n[0-9]+ +[^ ]+ +([^ ]+) ");  // SEQ, TIME, AGE
  const std::regex kubectl("[0-9]+(s|m|h|d)|[0-9]+m[0-9]+s|[0-9]+h[0-9]+m|[0-9]+d[0-9]+h");
  int rows = 0;
  std::string unlike;  // the ages kubectl would not print
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), row);
       it != std::sregex_iterator(); ++it, ++rows) {
    if (!std::regex_match((*it)[1].str(), kubectl)) unlike += " " + (*it)[1].str();
  }
  EXPECT_EQ(rows, static_cast<int>(w.journal().size()));
  EXPECT_EQ(unlike, "") << r.out;
  const v1::Entry& last = w.journal().back();
  EXPECT_EQ(r.err, "AGE counts back from the journal's last entry (entry " +
                       std::to_string(last.seq()) + ", " + FormatTimeMillis(last.time_ms()) +
                       "), not from now.\n");
  // Counted back from the last entry, not from now (the journal was recorded in 2027).
  std::smatch first, final;
  const std::string table = r.out;
  ASSERT_TRUE(std::regex_search(table, first, row));
  for (auto it = std::sregex_iterator(table.begin(), table.end(), row);
       it != std::sregex_iterator(); ++it)
    final = *it;
  EXPECT_EQ(final[1].str(), "0s");
  const int64_t span = (last.time_ms() - w.journal().front().time_ms()) / 1000;
  EXPECT_EQ(first[1].str(), std::to_string(span) + "s");
  testing::Run json = Replay(dir / "j", {"log", "-o", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.err, "");
}

// Every time `state` prints has milliseconds, its NEXT PULL column's too.
TEST(Cli, StateGivesEveryTimeInMilliseconds) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutPolicy(PolicyBuilder("p", 1).Backoff(30 * kSec, 60 * kSec, 2, 5));
  w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kExitFailure, kSec}; });
  w.Start();
  w.RunFor(5 * kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"state"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("\nweb .* 2027-01-15T08:00:3[0-9]\\.[0-9]{3}Z ")))
      << "a next pull in backoff: " << r.out;
  EXPECT_FALSE(std::regex_search(r.out, std::regex("T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"))) << r.out;
}

// A CachedImage that leaves its PullPolicy for the built-in one moves to pullpolicy/(default),
// as every other command names it: not to a blank.
TEST(Cli, DiffNamesTheBuiltInPolicyOfACachedImageWithNoPullPolicyRef) {
  TempDir dir;
  World w;
  w.PutNode(NodeBuilder("node-0"));
  w.PutPolicy(PolicyBuilder("gentle", 1));
  w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, kSec}; });
  w.Start();
  w.RunFor(5 * kSec);
  w.PutImage(ImageBuilder("web", "web:1"));
  w.RunFor(kSec);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  testing::Run away = Replay(dir / "j", {"diff", "--from", "+4s", "--to", "-0s"});
  ASSERT_EQ(away.exit_code, 0) << away.err;
  EXPECT_NE(away.out.find("pullPolicyRef: gentle -> (default)"), std::string::npos) << away.out;
}

// A short flag's value after '=' (-j=DIR, -o=json), as kubectl takes it: CLI11 kept the '=' in the
// value ("journal =DIR: no such directory"). And -j given empty is said as any empty flag is,
// not as a journal never given while $DROP_JOURNAL names one.
TEST(Cli, AShortFlagTakesItsValueAfterAnEqualsSignAndAnEmptyOneIsSaidSo) {
  Recorded rec;
  testing::Run info = Replay("", {"-j=" + rec.journal, "info"});
  EXPECT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("journal:          " + rec.journal), std::string::npos) << info.out;
  testing::Run json = Replay(rec.journal, {"state", "-o=json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(json.out.starts_with("{")) << json.out;
  testing::Run offset = Replay(rec.journal, {"log", "--since=-1s", "--kind", "outcome"});
  EXPECT_EQ(offset.exit_code, 0) << offset.err;
  JournalVariable variable(rec.journal);
  testing::Run empty = Replay("", {"-j", "", "info"});
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("drop-replay: -j is empty (a shell variable that is not set expands "
                           "to nothing); give it a value, or leave it out"),
            std::string::npos)
      << empty.err;
}

}  // namespace
}  // namespace drop::replay
