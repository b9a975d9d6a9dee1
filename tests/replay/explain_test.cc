// drop-replay explain: for each verdict kind, the story names the rule that held a node back and
// the inputs that decided it; nodes filtered out say why.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <regex>

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

// Runs `scenario` on a World with `nodes` plain nodes and writes its journal to dir/j.
template <typename Scenario>
std::string Record(const TempDir& dir, int nodes, Scenario scenario,
                   std::vector<v1::Entry>* journal = nullptr) {
  World w;
  for (int i = 0; i < nodes; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(i)));
  scenario(w);
  Status s = testing::WriteJournal(w.journal(), dir / "j");
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (journal != nullptr) *journal = w.journal();
  return dir / "j";
}

std::string Line(const std::string& out, const std::string& prefix) {
  size_t at = out.find("\n" + prefix);
  if (at == std::string::npos) return "";
  size_t end = out.find('\n', at + 1);
  return out.substr(at + 1, end - at - 1);
}

TEST(Explain, WaitConcurrencyNamesTheLimitAndTheActivePodsAndWhatStartedTheNode) {
  TempDir dir;
  std::string j = Record(dir, 3, [](World& w) {
    w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/1));
    w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 10 * kSec}; });
    w.Start();
    w.RunFor(60 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-1", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-1: ");
  EXPECT_NE(story.find("not pulled at 08:00:05 — WaitConcurrency: 1 of 1 active under PullPolicy "
                       "gentle (pods drop-web-"),
            std::string::npos)
      << r.out;
  EXPECT_NE(story.find("; started 08:00:10 when drop-web-"), std::string::npos) << story;
  EXPECT_NE(story.find(" Succeeded"), std::string::npos) << story;

  testing::Run json =
      Replay(j, {"explain", "cachedimage/web", "--node", "node-1", "--at", "+5s", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  boost::json::value doc = boost::json::parse(json.out);
  const boost::json::object& node = doc.at("nodes").at(0).as_object();
  EXPECT_EQ(node.at("rule").as_string(), "WaitConcurrency");
  EXPECT_EQ(node.at("inputs").at("active").as_int64(), 1);
  EXPECT_EQ(node.at("inputs").at("limit").as_int64(), 1);
  EXPECT_EQ(node.at("inputs").at("activePods").as_array().size(), 1u);
}

// drop's log names a reconcile by its first entry: at that point, and until the pass's last
// entry, the pass before it is the one in force, not the half-recorded one.
TEST(Explain, APointWithinAPacingPassSeesThePassBeforeIt) {
  TempDir dir;
  std::vector<v1::Entry> journal;
  std::string j = Record(
      dir, 3,
      [](World& w) {
        w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/1));
        w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
        w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 10 * kSec}; });
        w.Start();
        w.RunFor(60 * kSec);
      },
      &journal);
  // The pass that started node-1, and node-1's pod.
  uint64_t pass = 0, reconcile = 0;
  std::string pod;
  for (const v1::Entry& e : journal) {
    if (e.has_reconcile() && e.reconcile().key().kind() == v1::KIND_PULL_POLICY) {
      reconcile = e.seq();
    }
    if (e.has_action() && e.action().has_create_pod() &&
        e.action().create_pod().pod().node() == "node-1") {
      pass = reconcile;
      pod = e.action().create_pod().pod().name();
    }
  }
  ASSERT_NE(pass, 0u);
  // At its ReconcileStarted, the pass before it is in force.
  testing::Run r =
      Replay(j, {"explain", "cachedimage/web", "--node", "node-1", "--at", std::to_string(pass)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("Start: the pacing pass at 08:00:10"), std::string::npos) << r.out;
  std::string story = Line(r.out, "node-1: ");
  EXPECT_NE(story.find("not pulled at 08:00:10 — WaitConcurrency: 1 of 1 active"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(story.find(pod + ")"), std::string::npos) << "its own pod holds it back: " << story;
  EXPECT_NE(story.find("; started 08:00:10 when drop-web-"), std::string::npos) << story;
  // At its Start, the pass as far as it had gone: the create comes next.
  testing::Run start = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-1", "--at", std::to_string(pass + 1)});
  EXPECT_NE(Line(start.out, "node-1: ")
                .find("starting at 08:00:10 — the pacing pass started a pull on it when drop-web-"),
            std::string::npos)
      << start.out;
  EXPECT_NE(start.out.find("; pod " + pod + " is created in the next entry, Succeeded at "),
            std::string::npos)
      << start.out;
  EXPECT_NE(start.out.find("(1 of 1 active by this point)"), std::string::npos) << start.out;
  // At its CreatePod, the pull is under way.
  testing::Run created = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-1", "--at", std::to_string(pass + 2)});
  EXPECT_NE(created.out.find("Start: the pacing pass at 08:00:10 started pulls on node-1"),
            std::string::npos)
      << created.out;
  EXPECT_NE(Line(created.out, "node-1: ").find("pulling at 08:00:10 — pod " + pod + " Creating"),
            std::string::npos)
      << created.out;
}

// A node that leaves the targeted set and comes back waits again from its return: at a point
// before then, its story is the wait it was in, not a wait that had not begun.
TEST(Explain, AWaitThatBeganAfterThePointIsNotToldAtIt) {
  TempDir dir;
  std::string j = Record(dir, 3, [](World& w) {
    w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/1));
    w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 10 * kSec}; });
    w.Start();
    w.RunFor(8 * kSec);
    w.PutNode(NodeBuilder("node-2").Unschedulable());
    w.RunFor(kSec);
    w.PutNode(NodeBuilder("node-2"));
    w.RunFor(60 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-2", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-2: ");
  EXPECT_NE(story.find("not pulled at 08:00:05 — WaitConcurrency: 1 of 1 active"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(story.find("it wants the image since"), std::string::npos) << story;
}

// Image web under PullPolicy p (at most `limit` at a time, pulls of `pull_ms`) on two nodes, and
// node-late, which joins at `join_ms`; the journal runs on `after_ms` past that.
std::string RecordALateNode(const TempDir& dir, int limit, int64_t pull_ms, int64_t join_ms,
                            int64_t after_ms, std::vector<v1::Entry>* journal = nullptr) {
  return Record(
      dir, 2,
      [&](World& w) {
        w.PutPolicy(PolicyBuilder("p", limit));
        w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
        w.SetBehaviour([pull_ms](const v1::Pod&) { return Pull{Pull::kSucceed, pull_ms}; });
        w.Start();
        w.RunFor(join_ms);
        w.PutNode(NodeBuilder("node-late"));
        w.RunFor(after_ms);
      },
      journal);
}

// A node that joins after the rollout ended waits for the pass its arrival triggers: until that
// pass, the one in force never weighed it.
TEST(Explain, ANodeThatJoinsAfterTheLastPassIsToldNoPassHadWeighedIt) {
  TempDir dir;
  std::vector<v1::Entry> journal;
  std::string j = RecordALateNode(dir, 5, 2 * kSec, 30 * kSec, 30 * kSec, &journal);
  uint64_t joined = 0;
  for (const v1::Entry& e : journal) {
    if (e.has_watch() && e.watch().has_node() && e.watch().node().name() == "node-late") {
      joined = e.seq();
    }
  }
  ASSERT_NE(joined, 0u);
  testing::Run r = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-late", "--at", std::to_string(joined)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-late: ");
  EXPECT_NE(story.find("not pulled at 08:00:30 — it wants the image since 08:00:30, after the "
                       "last pacing pass of PullPolicy p (at 08:00:0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(story.find("; started 08:00:30 when node node-late joined"), std::string::npos)
      << story;
}

// A node that joins while its policy is at its limit: the pass it triggers meets the same
// WaitConcurrency again and leaves no entry; the story says what holds it.
TEST(Explain, ANodeThatJoinsWhileThePolicyIsFullIsToldTheCount) {
  TempDir dir;
  std::string j = RecordALateNode(dir, 1, 20 * kSec, 5 * kSec, 80 * kSec);
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-late", "--at", "+6s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-late: ");
  EXPECT_NE(story.find("it wants the image since 08:00:05, after the last pacing pass of "
                       "PullPolicy p (at 08:00:0"),
            std::string::npos)
      << r.out;
  EXPECT_NE(story.find("; 1 of 1 active under PullPolicy p then, its limit;"), std::string::npos)
      << story;
}

TEST(Explain, AWaitTheJournalRecordedOnceIsNamedAtEveryPassThatRepeatedIt) {
  // web waits on the concurrency limit behind its own two pulls while a-bad's two pods fail one
  // after the other: the second failure's pass records a-bad's new backoff and repeats web's
  // wait, which the core journals only once.
  TempDir dir;
  std::string j = Record(dir, 4, [](World& w) {
    w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/2).Backoff(kSec, 4 * kSec, 2, 100));
    w.PutImage(ImageBuilder("a-bad", "registry.example.com/a-bad:1").Policy("gentle"));
    w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
    w.SetBehaviour([](const v1::Pod& pod) {
      return pod.cached_image() == "a-bad" ? Pull{Pull::kNotFound, 0}
                                           : Pull{Pull::kSucceed, 120 * kSec};
    });
    w.Start();
    w.RunFor(250 * kSec);
  });
  // At +12s the pass in force (after a-bad's second failure, 11.2 s) recorded only a-bad's
  // backoff; at +30s a later pass recorded a wait again.
  for (int at : {12, 30}) {
    testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-2", "--at",
                                "+" + std::to_string(at) + "s", "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    boost::json::value doc = boost::json::parse(r.out);
    const boost::json::object& node = doc.at("nodes").at(0).as_object();
    EXPECT_EQ(node.at("rule").as_string(), "WaitConcurrency") << "at +" << at << "s: " << r.out;
  }
  // The wait's breakdown puts the passes that repeated the wait down to it too: no pull of web
  // could start before its own first two ended.
  testing::Run end = Replay(j, {"explain", "cachedimage/web", "--node", "node-2"});
  std::string waited = Line(end.out, "node-2: ");
  EXPECT_NE(waited.find("; it had waited "), std::string::npos) << end.out;
  EXPECT_NE(waited.find(": WaitConcurrency "), std::string::npos) << waited;
  EXPECT_EQ(waited.find("its turn"), std::string::npos) << waited;
}

TEST(Explain, WaitMinDelayNamesTheLastCreationAndWhenTheRulePasses) {
  TempDir dir;
  std::string j = Record(dir, 3, [](World& w) {
    w.PutPolicy(PolicyBuilder("slow", /*max_concurrent=*/10, /*min_delay_ms=*/30 * kSec));
    w.PutImage(ImageBuilder("web", "web:1").Policy("slow"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, kSec}; });
    w.Start();
    w.RunFor(120 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-1", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-1: ");
  EXPECT_NE(story.find("WaitMinDelay: the last drop pod under PullPolicy slow was created at "
                       "08:00:00 and minDelayBetweenPulls is 30s: not before 08:00:30"),
            std::string::npos)
      << r.out;
  EXPECT_NE(story.find("started 08:00:30 when the requeue timer of pullpolicy/slow fired"),
            std::string::npos)
      << story;
}

// The time a policy could not be used is put down to it, not to the pass before it.
TEST(Explain, TheTimeAPolicyWasInvalidIsNamedInTheWait) {
  TempDir dir;
  std::string j = Record(dir, 1, [](World& w) {
    w.PutPolicy(PolicyBuilder("p", /*max_concurrent=*/0));
    w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, kSec}; });
    w.Start();
    w.RunFor(60 * kSec);
    PolicyBuilder fixed("p", 1);
    fixed.object.set_generation(2);
    w.PutPolicy(fixed);
    w.RunFor(10 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-0: ");
  EXPECT_NE(story.find("it had waited 1m0s since 08:00:00: InvalidSpec 1m0s"), std::string::npos)
      << r.out;
}

TEST(Explain, WaitBackoffNamesTheFailuresAndTheDelay) {
  TempDir dir;
  std::string j = Record(dir, 3, [](World& w) {
    w.PutPolicy(PolicyBuilder("p", 1).Backoff(10 * kSec, 100 * kSec, 2, 5));
    w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kExitFailure, kSec}; });
    w.Start();
    w.RunFor(200 * kSec);
  });
  // The first pull (node-0) fails at 08:00:01; the image then backs off for 10 s.
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-1", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-1: ");
  EXPECT_NE(story.find("WaitBackoff: 1 consecutive failures of cachedimage web, the last at "
                       "08:00:01; backoff 10s under PullPolicy p: not before 08:00:11"),
            std::string::npos)
      << r.out;
  testing::Run failed =
      Replay(j, {"explain", "cachedimage/web", "--node", "node-0", "--at", "+5s"});
  EXPECT_NE(failed.out.find("node-0: not pulled at 08:00:05 — its last pull (pod drop-web-"),
            std::string::npos)
      << failed.out;
  EXPECT_NE(failed.out.find("Error: exit code 1"), std::string::npos) << failed.out;
}

TEST(Explain, AFailingImageWaitsOnItsOnePullInFlight) {
  TempDir dir;
  std::vector<v1::Entry> journal;
  std::string j = Record(
      dir, 8,
      [](World& w) {
        w.PutPolicy(PolicyBuilder("p", 3));
        w.PutImage(ImageBuilder("web", "web:broken").Policy("p"));
        w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kNotFound, 0}; });
        w.Start();
        w.RunFor(60 * kSec);
      },
      &journal);
  // node-0..2 start at once; each is ErrImagePull half a second later, and node-3 waits: then
  // for their failures (at 10.7 s), and the backoff of 3 (40 s).
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-3", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-3: ");
  EXPECT_NE(story.find("WaitBackoff: cachedimage web is failing (a pull of it waits on an image "
                       "error), so one node at a time tries it: the next waits for pod drop-web-"),
            std::string::npos)
      << r.out;
  EXPECT_NE(story.find(" on node-0, Pending (ImagePullBackOff"), std::string::npos) << story;
  EXPECT_NE(story.find("; started 08:00:50.700 when"), std::string::npos) << story;
  testing::Run json =
      Replay(j, {"explain", "cachedimage/web", "--node", "node-3", "--at", "+5s", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_NE(json.out.find("\"inFlightPod\""), std::string::npos) << json.out;
  EXPECT_EQ(json.out.find("\"limit\""), std::string::npos) << json.out;
  // The pass at 50.7 s starts node-3's pull and holds the rest without a record, until the next
  // pass records the hold: between the two, the hold is named all the same.
  uint64_t created = 0;
  for (const v1::Entry& e : journal) {
    if (e.has_action() && e.action().has_create_pod() &&
        e.action().create_pod().pod().node() == "node-3") {
      created = e.seq();
    }
  }
  ASSERT_NE(created, 0u);
  testing::Run probe = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-4", "--at", std::to_string(created)});
  EXPECT_NE(Line(probe.out, "node-4: ")
                .find("WaitBackoff: cachedimage web is failing (3 consecutive failures), so one "
                      "node at a time tries it: the next waits for pod drop-web-"),
            std::string::npos)
      << probe.out;
  EXPECT_NE(Line(probe.out, "node-4: ").find(" on node-3, "), std::string::npos) << probe.out;
  // At the pass's Start, before the create: the hold is already in force.
  testing::Run at_start = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-4", "--at", std::to_string(created - 1)});
  EXPECT_NE(Line(at_start.out, "node-4: ")
                .find("WaitBackoff: cachedimage web is failing (3 consecutive failures), so one "
                      "node at a time tries it: the next waits for pod drop-web-"),
            std::string::npos)
      << at_start.out;
  EXPECT_NE(
      Line(at_start.out, "node-4: ")
          .find(" on node-3, created in an entry to come, to end (pacing pass at 08:00:50.700)"),
      std::string::npos)
      << at_start.out;
  // The entry it cites is that Start, and -o json says so beside the hold it implies.
  testing::Run at_start_json = Replay(j, {"explain", "cachedimage/web", "--node", "node-4", "--at",
                                          std::to_string(created - 1), "-o", "json"});
  ASSERT_EQ(at_start_json.exit_code, 0) << at_start_json.err;
  EXPECT_NE(at_start_json.out.find("\"verdict\": \"WaitBackoff\""), std::string::npos)
      << at_start_json.out;
  EXPECT_NE(at_start_json.out.find("\"recordedVerdict\": \"Start\""), std::string::npos)
      << at_start_json.out;
  // node-0's failed pod was deleted at its second ImagePullBackOff: the node waits on the
  // backoff its failure set, and says which pull failed.
  testing::Run failed =
      Replay(j, {"explain", "cachedimage/web", "--node", "node-0", "--at", "+30s"});
  std::string last = Line(failed.out, "node-0: ");
  EXPECT_NE(last.find("not pulled at 08:00:30 — WaitBackoff: 3 consecutive failures"),
            std::string::npos)
      << failed.out;
  EXPECT_NE(last.find("; its last pull (pod drop-web-"), std::string::npos) << last;
  EXPECT_NE(last.find(") failed at 08:00:10.700: ImagePullBackOff"), std::string::npos) << last;
  EXPECT_EQ(last.find("not started by the end"), std::string::npos) << last;
  // Between drop's delete of node-0's failed pod and the watch's word that it is gone, the pod is
  // being deleted: not kept until a TTL.
  uint64_t deleted = 0;
  for (const v1::Entry& e : journal) {
    if (deleted == 0 && e.has_action() && e.action().has_delete_pod() &&
        e.action().delete_pod().node() == "node-0") {
      deleted = e.seq();
    }
  }
  ASSERT_NE(deleted, 0u);
  testing::Run deleting = Replay(
      j, {"explain", "cachedimage/web", "--node", "node-0", "--at", std::to_string(deleted)});
  std::string window = Line(deleting.out, "node-0: ");
  EXPECT_NE(window.find("; drop is deleting the pod, and the image's backoff decides when a retry "
                        "comes"),
            std::string::npos)
      << deleting.out;
  EXPECT_EQ(window.find("stays until its TTL"), std::string::npos) << window;
}

// Passes after the first that hold a failing image decide the same wait and leave it out of the
// journal; the story and the wait's breakdown still name it, not the other image's pulls.
TEST(Explain, AFailingImageIsHeldAtThePassesThatDidNotRecordItsWaitAgain) {
  TempDir dir;
  std::string j = Record(dir, 8, [](World& w) {
    w.PutPolicy(PolicyBuilder("p", 3).Backoff(20 * kSec, 20 * kSec, 1, 10));
    w.PutImage(ImageBuilder("base", "base:1").Policy("p"));
    w.PutImage(ImageBuilder("web", "web:2").Policy("p"));
    int web_pulls = 0;  // the registry has web:2 from its third pull on
    w.SetBehaviour([&](const v1::Pod& pod) {
      if (pod.cached_image() == "web" && ++web_pulls <= 2) return Pull{Pull::kNotFound, 0};
      return Pull{Pull::kSucceed, 2 * kSec};
    });
    w.Start();
    w.RunFor(120 * kSec);
  });
  // web's two pods are ErrImagePull from 0.5 s; base's pulls end every 2 s, and each pass they
  // wake holds web again without a record.
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--node", "node-3", "--at", "+5s"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string story = Line(r.out, "node-3: ");
  EXPECT_NE(story.find("not pulled at 08:00:05 — WaitBackoff: cachedimage web is failing (a pull "
                       "of it waits on an image error)"),
            std::string::npos)
      << r.out;
  // The pass in force at +5s met the wait an earlier pass recorded: the story cites that entry.
  std::smatch cited;
  ASSERT_TRUE(
      std::regex_search(story, cited,
                        std::regex(R"(\(recorded at [0-9:.]+, entry ([0-9]+); the pacing pass at )"
                                   R"([0-9:.]+ met it again\))")))
      << story;
  const uint64_t seq = std::stoull(cited[1]);
  testing::Run entry =
      Replay(j, {"log", "--from", std::to_string(seq - 1), "--to", std::to_string(seq)});
  EXPECT_NE(entry.out.find("WaitBackoff web under pullpolicy/p, one pull at a time"),
            std::string::npos)
      << entry.out;
  // Both failed at 10.7 s; the probe 20 s later succeeded, and node-3 followed: its wait was
  // web's own, not base's turn.
  testing::Run later = Replay(j, {"explain", "cachedimage/web", "--node", "node-3"});
  std::string waited = Line(later.out, "node-3: ");
  EXPECT_NE(waited.find("; it had waited "), std::string::npos) << later.out;
  EXPECT_NE(waited.find(": WaitBackoff "), std::string::npos) << waited;
  EXPECT_EQ(waited.find("its turn"), std::string::npos) << waited;
}

TEST(Explain, NoEligibleNodeNamesThePodsInTheWay) {
  TempDir dir;
  std::string j = Record(dir, 2, [](World& w) {
    w.PutPolicy(PolicyBuilder("p", 5));
    w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kHang, 0}; });
    w.Start();
    w.RunFor(30 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("NoEligibleNode: every targeted node lacking the image already had a drop "
                       "pod of it"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("(pods drop-web-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("node-0: pulling at"), std::string::npos) << r.out;
}

TEST(Explain, AStartNamesTheNodesItStarted) {
  TempDir dir;
  std::vector<v1::Entry> journal;
  std::string j = Record(
      dir, 2,
      [](World& w) {
        w.PutPolicy(PolicyBuilder("p", 5));
        w.PutImage(ImageBuilder("web", "web:1").Policy("p"));
        w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 10 * kSec}; });
        w.Start();
        w.RunFor(30 * kSec);
      },
      &journal);
  // Right after the pass that started both pulls: the last decision of its input.
  uint64_t after = 0;
  for (const v1::Entry& e : journal) {
    if (after == 0 && e.has_action() && e.action().has_create_pod()) after = e.seq();
    if (after != 0 && e.seq() > after) {
      if (!IsDecision(e)) break;
      after = e.seq();
    }
  }
  testing::Run r = Replay(j, {"explain", "cachedimage/web", "--at", std::to_string(after)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("Start: the pacing pass at 08:00:00 started pulls on node-0, node-1"),
            std::string::npos)
      << r.out;
  testing::Run end = Replay(j, {"explain", "cachedimage/web", "--node", "node-1"});
  EXPECT_NE(end.out.find("node-1: cached — pod drop-web-"), std::string::npos) << end.out;
  EXPECT_NE(end.out.find("Succeeded at 08:00:10 (took 10s)"), std::string::npos) << end.out;
}

TEST(Explain, AnImageEveryTargetedNodeHoldsHasNothingToPace) {
  TempDir dir;
  std::string j = Record(dir, 3, [](World& w) {
    w.PutPolicy(PolicyBuilder("gentle", /*max_concurrent=*/1));
    w.PutImage(ImageBuilder("web", "web:1").Policy("gentle"));
    w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 2 * kSec}; });
    w.Start();
    w.RunFor(60 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Not the verdict of the last pass, which started the last node or found none left to start.
  EXPECT_NE(r.out.find("Z: nothing to pace: every targeted node holds the image\n"),
            std::string::npos)
      << r.out;
}

TEST(Explain, NodesFilteredOutSayWhy) {
  TempDir dir;
  std::string j = Record(dir, 0, [](World& w) {
    w.PutNode(NodeBuilder("a-gpu").Labels({{"pool", "gpu"}}));
    w.PutNode(NodeBuilder("b-cpu").Labels({{"pool", "cpu"}}));
    w.PutNode(
        NodeBuilder("c-tainted").Labels({{"pool", "gpu"}}).Taint("gpu", "true", "NoSchedule"));
    w.PutNode(NodeBuilder("d-notready").Labels({{"pool", "gpu"}}).NotReady());
    w.PutNode(NodeBuilder("e-cordoned").Labels({{"pool", "gpu"}}).Unschedulable());
    w.PutNode(NodeBuilder("f-present").Labels({{"pool", "gpu"}}).Image("web:1"));
    w.PutImage(ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}}));
    w.Start();
    w.RunFor(30 * kSec);
  });
  testing::Run r = Replay(j, {"explain", "cachedimage/web"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("b-cpu: not targeted — labels do not match nodeSelector pool=gpu"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("c-tainted: not targeted — taint gpu=true:NoSchedule is not tolerated"),
            std::string::npos);
  EXPECT_NE(r.out.find("d-notready: not targeted — node is NotReady"), std::string::npos);
  EXPECT_NE(r.out.find("e-cordoned: not targeted — node is unschedulable"), std::string::npos);
  EXPECT_NE(r.out.find("f-present: cached — node.status.images lists the image"),
            std::string::npos);
  EXPECT_NE(r.out.find("a-gpu: cached — pod drop-web-"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace drop::replay
