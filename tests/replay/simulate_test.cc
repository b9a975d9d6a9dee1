// drop-replay simulate: the recorded rollout re-run through the core. With the recorded policy it
// reproduces the recorded completion; with more concurrency it finishes sooner.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "core/duration.h"
#include "core/hash.h"
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

// A rollout of three CachedImages over 40 nodes under one policy (4 at a time, 1 s apart), pull
// times that differ by node and image, a node whose first pull of `app` fails, a node that joins
// late, and an image that cannot be pulled at all.
// With `restart`, the operator restarts 30 s in (OperatorStarted, then the relists).
std::string RecordRollout(const TempDir& dir, int full_speed = 0, bool restart = false) {
  World w;
  for (int i = 0; i < 40; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(10 + i)));
  w.PutPolicy(PolicyBuilder("rollout", 4, kSec).Backoff(5 * kSec, 60 * kSec, 2, 5));
  for (const char* name : {"app", "base", "tools"})
    w.PutImage(
        ImageBuilder(name, std::string("registry.example.com/") + name + ":1").Policy("rollout"));
  w.PutImage(ImageBuilder("broken", "registry.example.com/broken:1").Policy("rollout"));
  auto failed_once = std::make_shared<bool>(false);
  w.SetBehaviour([&w, failed_once, full_speed](const v1::Pod& pod) {
    if (pod.cached_image() == "broken") return Pull{Pull::kNotFound, 0};
    if (pod.cached_image() == "app" && pod.node() == "node-17" && !*failed_once) {
      *failed_once = true;
      return Pull{Pull::kExitFailure, 2 * kSec};
    }
    int64_t ms = 1000 + static_cast<int64_t>(Fnv1a64(pod.node() + pod.cached_image()) % 6000);
    if (full_speed > 0) {  // a registry that slows down when more than `full_speed` pull at once
      ms = 3000 + static_cast<int64_t>(Fnv1a64(pod.node() + pod.cached_image()) % 300);
      int in_flight = 0;
      for (const auto& [name, p] : w.pods())
        in_flight += p.phase() == v1::POD_PENDING && p.waiting_reason() == "ContainerCreating";
      ms = ms * std::max(full_speed, in_flight) / full_speed;
    }
    return Pull{Pull::kSucceed, ms};
  });
  w.Start();
  if (restart) {
    w.RunFor(30 * kSec);
    w.Start();
    w.RunFor(15 * kSec);
  } else {
    w.RunFor(45 * kSec);
  }
  w.PutNode(NodeBuilder("node-late"));
  w.RunFor(600 * kSec);
  Status s = testing::WriteJournal(w.journal(), dir / "j");
  EXPECT_TRUE(s.ok()) << s.ToString();
  return dir / "j";
}

struct Row {
  std::string recorded, simulated, since, recorded_ready, simulated_ready;
};

std::map<std::string, Row> Rows(const std::string& json) {
  std::map<std::string, Row> rows;
  boost::json::value doc = boost::json::parse(json);
  for (const auto& v : doc.at("cachedImages").as_array()) {
    const auto& o = v.as_object();
    Row r;
    r.recorded = o.at("recorded").as_string().c_str();
    r.simulated = o.at("simulated").as_string().c_str();
    if (o.contains("recordedReady")) r.recorded_ready = o.at("recordedReady").as_string().c_str();
    if (o.contains("simulatedReady")) {
      r.simulated_ready = o.at("simulatedReady").as_string().c_str();
    }
    r.since = o.at("since").as_string().c_str();
    rows[std::string(o.at("cachedImage").as_string())] = r;
  }
  return rows;
}

int64_t Ms(const std::string& rfc3339) {
  Result<int64_t> t = ParseTime(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ok() ? *t : 0;
}

TEST(Simulate, TheRecordedPolicyReproducesTheRecordedCompletionWithinFivePercent) {
  TempDir dir;
  std::string j = RecordRollout(dir);
  testing::Run r = Replay(j, {"simulate", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, Row> rows = Rows(r.out);
  ASSERT_EQ(rows.size(), 4u) << r.out;
  for (const char* name : {"app", "base", "tools"}) {
    const Row& row = rows[name];
    ASSERT_FALSE(row.recorded_ready.empty()) << name << " never became Ready in the recording";
    ASSERT_FALSE(row.simulated_ready.empty()) << name << " never became Ready in the simulation";
    double recorded = static_cast<double>(Ms(row.recorded_ready) - Ms(row.since));
    double simulated = static_cast<double>(Ms(row.simulated_ready) - Ms(row.since));
    EXPECT_NEAR(simulated / recorded, 1.0, 0.05)
        << name << ": recorded " << row.recorded << ", simulated " << row.simulated;
  }
  EXPECT_EQ(rows["broken"].recorded, "never");
  EXPECT_EQ(rows["broken"].simulated, "never");
  // A change under half a percent either way is 0%, not "-0%".
  testing::Run table = Replay(j, {"simulate"});
  EXPECT_EQ(table.out.find("-0%"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(" 0%"), std::string::npos) << table.out;
}

TEST(Simulate, ARestartInTheRecordingKeepsTheSimulatedPods) {
  // The restart's pod relist must list the simulated cluster's pods: were they forgotten, the
  // simulated drop would start more than the policy allows and finish early.
  TempDir dir;
  std::string j = RecordRollout(dir, 0, /*restart=*/true);
  testing::Run r = Replay(j, {"simulate", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, Row> rows = Rows(r.out);
  for (const char* name : {"app", "base", "tools"}) {
    const Row& row = rows[name];
    ASSERT_FALSE(row.simulated_ready.empty()) << name << " never became Ready in the simulation";
    double recorded = static_cast<double>(Ms(row.recorded_ready) - Ms(row.since));
    double simulated = static_cast<double>(Ms(row.simulated_ready) - Ms(row.since));
    EXPECT_NEAR(simulated / recorded, 1.0, 0.05)
        << name << ": recorded " << row.recorded << ", simulated " << row.simulated;
  }
}

TEST(Simulate, MoreConcurrencyAndNoDelayFinishSooner) {
  TempDir dir;
  std::string j = RecordRollout(dir);
  testing::Run r = Replay(j, {"simulate", "--set", "maxConcurrentNodes=16", "--set",
                              "minDelayBetweenPulls=0s", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("maxConcurrentNodes 4 -> 16"), std::string::npos) << r.out;
  std::map<std::string, Row> rows = Rows(r.out);
  for (const char* name : {"app", "base", "tools"}) {
    const Row& row = rows[name];
    ASSERT_FALSE(row.simulated_ready.empty()) << name;
    EXPECT_LT(Ms(row.simulated_ready), Ms(row.recorded_ready) - 60 * kSec)
        << name << ": recorded " << row.recorded << ", simulated " << row.simulated;
  }
  testing::Run table = Replay(j, {"simulate", "--set", "maxConcurrentNodes=16"});
  EXPECT_NE(table.out.find("CACHEDIMAGE"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("%"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("RECORDED and SIMULATED: from SINCE to when the CachedImage last "
                           "became Ready"),
            std::string::npos)
      << table.out;
}

TEST(Simulate, ABandwidthLimitIsInferredFromPullsThatSlowWhenTheyOverlap) {
  TempDir dir;
  std::string j = RecordRollout(dir, /*full_speed=*/2);
  testing::Run r = Replay(j, {"simulate", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::value doc = boost::json::parse(r.out);
  EXPECT_TRUE(doc.at("bandwidthInferred").as_bool());
  EXPECT_GT(doc.at("fullSpeedPulls").as_int64(), 0) << r.err;
  EXPECT_LT(doc.at("fullSpeedPulls").as_int64(), 4) << r.out;
  // With more pulls at once, the shared bandwidth keeps the gain far below the 4x of the slots.
  testing::Run wide = Replay(j, {"simulate", "--set", "maxConcurrentNodes=16", "-o", "json"});
  std::map<std::string, Row> rows = Rows(wide.out);
  const Row& base = rows["base"];
  double recorded = static_cast<double>(Ms(base.recorded_ready) - Ms(base.since));
  double simulated = static_cast<double>(Ms(base.simulated_ready) - Ms(base.since));
  EXPECT_GT(simulated / recorded, 0.5) << wide.out;
}

TEST(Simulate, ASlowerPolicyIsNotToldByTheRecordedNodesWhatItHasNotPulledYet) {
  // The kubelet lists an image in its node's status once a pull ends. Replayed as recorded, those
  // lists told a simulation that pulls one node at a time that the nodes it had not reached yet
  // held the image, and it finished with the recording.
  TempDir dir;
  World w;
  for (int i = 0; i < 12; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(10 + i)));
  w.PutPolicy(PolicyBuilder("rollout", 4, 0));
  const std::string ref = "registry.example.com/app:1";
  w.PutImage(ImageBuilder("app", ref).Policy("rollout"));
  w.SetBehaviour([](const v1::Pod&) { return Pull{Pull::kSucceed, 2 * kSec}; });
  w.Start();
  std::set<std::string> listed;
  for (int t = 0; t < 60; ++t) {
    w.RunFor(kSec);
    for (const auto& [name, pod] : w.pods()) {
      if (pod.phase() == v1::POD_SUCCEEDED && listed.insert(pod.node()).second) {
        w.PutNode(NodeBuilder(pod.node()).Image(ref));
      }
    }
  }
  ASSERT_EQ(listed.size(), 12u);
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());

  testing::Run r = Replay(dir / "j", {"simulate", "--set", "maxConcurrentNodes=1", "--policy",
                                      "rollout", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, Row> rows = Rows(r.out);
  const Row& app = rows["app"];
  ASSERT_FALSE(app.recorded_ready.empty()) << r.out;
  ASSERT_FALSE(app.simulated_ready.empty()) << r.out;
  // 12 pulls of 2 s: 6 s or so four at a time, 24 s at least one at a time.
  EXPECT_GE(Ms(app.simulated_ready) - Ms(app.since), 24 * kSec) << r.out;
  EXPECT_LT(Ms(app.recorded_ready) - Ms(app.since), 12 * kSec) << r.out;
}

// CachedImage app on three nodes under PullPolicy p, pulled `limit` at a time until Ready, then
// `change`d and Ready again: its row in `simulate -o json` with `args`.
boost::json::value SimulatedAfterAChange(int limit, const std::function<void(World&)>& change,
                                         std::vector<std::string> args) {
  World w;
  for (int i = 0; i < 3; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("p", limit, 0));
  w.PutImage(ImageBuilder("app", "registry.example.com/app:1").Policy("p"));
  w.Start();
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.Image("app").status().phase(), "Ready");
  change(w);
  w.RunFor(60 * kSec);
  EXPECT_EQ(w.Image("app").status().phase(), "Ready");
  TempDir dir;
  EXPECT_TRUE(testing::WriteJournal(w.journal(), dir / "j").ok());
  args.insert(args.begin(), "simulate");
  args.insert(args.end(), {"-o", "json"});
  testing::Run r = Replay(dir / "j", args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? boost::json::parse(r.out).at("cachedImages").at(0)
                          : boost::json::value();
}

// A new spec.image starts the CachedImage's life again, in both runs: its first Ready is the one
// after, not "never" because the first one of all came before the change.
TEST(Simulate, AnImageChangedMidRecordingIsFirstReadyAfterTheChange) {
  const boost::json::value app = SimulatedAfterAChange(
      1,
      [](World& w) { w.PutImage(ImageBuilder("app", "registry.example.com/app:2").Policy("p")); },
      {});
  ASSERT_TRUE(app.is_object());
  EXPECT_EQ(app.at("recordedFirst"), app.at("recorded")) << app;
  EXPECT_EQ(app.at("simulatedFirst"), app.at("simulated")) << app;
  EXPECT_NE(app.at("simulated"), "never") << app;
}

// Under a bandwidth limit, each recorded pull is derated by the overlap it had itself, also where
// its node pulled the image again later at another overlap: three pulls at once, then the same
// nodes replaced and pulled one at a time. The first rollout, all at once at full speed 1, takes
// what it took, not three times that.
TEST(Simulate, EachPullOfANodeIsDeratedByItsOwnOverlap) {
  const boost::json::value app = SimulatedAfterAChange(
      3,
      [](World& w) {
        w.PutPolicy(PolicyBuilder("p", 1, 0));
        for (int i = 0; i < 3; ++i) {  // replaced: the new nodes lack the image
          w.RemoveNode("node-" + std::to_string(i));
          w.PutNode(NodeBuilder("node-" + std::to_string(i)).Uid("uid-new-" + std::to_string(i)));
        }
      },
      {"--full-speed-pulls", "1"});
  ASSERT_TRUE(app.is_object());
  Result<int64_t> recorded = ParseDuration(std::string(app.at("recordedFirst").as_string()));
  Result<int64_t> simulated = ParseDuration(std::string(app.at("simulatedFirst").as_string()));
  ASSERT_TRUE(recorded.ok() && simulated.ok()) << app;
  EXPECT_NEAR(static_cast<double>(*simulated) / static_cast<double>(*recorded), 1.0, 0.05) << app;
  EXPECT_EQ(app.at("recorded"), app.at("simulated")) << app;
}

// A node that joins late sends ml-runtime back to Pulling, and its pull sets the completion in
// both runs: the first Ready shows what more concurrency gained.
TEST(Simulate, TheFirstReadyShowsAGainALateNodeHidesInTheCompletion) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  testing::Run r =
      Replay(dir / "j", {"simulate", "--policy", "gentle", "--set", "maxConcurrentNodes=20",
                         "--set", "minDelayBetweenPulls=0s", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  boost::json::value doc = boost::json::parse(r.out);
  const boost::json::object* ml = nullptr;
  for (const boost::json::value& x : doc.at("cachedImages").as_array()) {
    if (x.at("cachedImage") == "ml-runtime") ml = &x.as_object();
  }
  ASSERT_NE(ml, nullptr) << r.out;
  EXPECT_EQ(ml->at("recorded"), ml->at("simulated")) << "gpu-late's pull ends both: " << r.out;
  Result<int64_t> recorded = ParseDuration(std::string(ml->at("recordedFirst").as_string()));
  Result<int64_t> simulated = ParseDuration(std::string(ml->at("simulatedFirst").as_string()));
  ASSERT_TRUE(recorded.ok() && simulated.ok()) << r.out;
  EXPECT_LT(*simulated, *recorded / 2) << r.out;
  testing::Run table =
      Replay(dir / "j", {"simulate", "--policy", "gentle", "--set", "maxConcurrentNodes=20"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("FIRST READY (RECORDED -> SIMULATED)"), std::string::npos) << table.out;
  EXPECT_TRUE(
      std::regex_search(table.out, std::regex("\nml-runtime .* [0-9a-z.]+ -> [0-9a-z.]+ \\(-")))
      << table.out;
}

// A journal retention cut where its images were already Ready (as any copied off an operator
// running for a week): they are Ready at start in both runs, not "never" Ready.
TEST(Simulate, AnImageReadyWhereTheJournalBeginsIsReadyAtStartNotNever) {
  TempDir dir;
  testing::WriteOptions wo;
  wo.snapshot_every_entries = 10;
  wo.retention_age_ms = 60 * 1000;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j", wo).ok());
  testing::Run info = Replay(dir / "j", {"info"});
  ASSERT_EQ(info.out.find("entries:          1.."), std::string::npos)
      << "a prefix is gone: " << info.out;
  testing::Run r = Replay(dir / "j", {"simulate", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, std::pair<std::string, std::string>> runs, firsts;
  const boost::json::value doc = boost::json::parse(r.out);
  for (const boost::json::value& x : doc.at("cachedImages").as_array()) {
    const std::string name(x.at("cachedImage").as_string());
    runs[name] = {std::string(x.at("recorded").as_string()),
                  std::string(x.at("simulated").as_string())};
    firsts[name] = {std::string(x.at("recordedFirst").as_string()),
                    std::string(x.at("simulatedFirst").as_string())};
  }
  for (const char* name : {"base", "ml-runtime"}) {
    EXPECT_EQ(runs[name].first, "Ready at start") << name << ": " << r.out;
    EXPECT_EQ(runs[name].second, "Ready at start") << name << ": " << r.out;
    // Its first Ready is the same: not "never" beside it.
    EXPECT_EQ(firsts[name], runs[name]) << name << ": " << r.out;
  }
  EXPECT_EQ(runs["broken"].first, "never") << r.out;
  testing::Run table = Replay(dir / "j", {"simulate"});
  EXPECT_NE(table.out.find("Ready at start: Ready where the journal begins"), std::string::npos)
      << table.out;
}

// Ready where the journal begins, then sent back to Pulling by a node it cannot pull on: not Ready
// at start (nor Ready at all) at the end of either run.
TEST(Simulate, AnImageReadyAtTheStartButNotAtTheEndIsNeverReady) {
  World w;
  for (int i = 0; i < 3; ++i)
    w.PutNode(NodeBuilder("node-" + std::to_string(i)));
  w.PutPolicy(PolicyBuilder("p", 2, 0));
  w.PutImage(ImageBuilder("app", "registry.example.com/app:1").Policy("p"));
  w.SetBehaviour([](const v1::Pod& pod) {
    return pod.node() == "late" ? Pull{Pull::kNotFound, 0} : Pull{Pull::kSucceed, 2 * kSec};
  });
  w.Start();
  w.RunFor(30 * kSec);
  w.RunFor(200 * kSec);
  w.PutNode(NodeBuilder("late"));
  w.RunFor(40 * kSec);
  TempDir dir;
  testing::WriteOptions wo;
  wo.snapshot_every_entries = 1;
  wo.retention_age_ms = 60 * kSec;
  ASSERT_TRUE(testing::WriteJournal(w.journal(), dir / "j", wo).ok());
  testing::Run state = Replay(dir / "j", {"state", "--at", "-60s"});
  ASSERT_EQ(state.exit_code, 0) << state.err;
  testing::Run r = Replay(dir / "j", {"simulate", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const boost::json::value doc = boost::json::parse(r.out);
  const boost::json::value& app = doc.at("cachedImages").at(0);
  EXPECT_EQ(app.at("recorded"), "never") << r.out;
  EXPECT_EQ(app.at("simulated"), "never") << r.out;
}

// A policy that lets nothing start before the simulation's limit: it runs to that limit, and says
// so, not the time of the last thing that happened.
TEST(Simulate, ARunThatReachesItsLimitStopsThere) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  testing::Run info = Replay(dir / "j", {"info", "-o", "json"});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  const boost::json::value range = boost::json::parse(info.out);
  const int64_t first = Ms(std::string(range.at("firstTime").as_string())),
                last = Ms(std::string(range.at("lastTime").as_string()));
  testing::Run r =
      Replay(dir / "j", {"simulate", "--set", "minDelayBetweenPulls=1000h", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const boost::json::value doc = boost::json::parse(r.out);
  EXPECT_EQ(Ms(std::string(doc.at("simulatedUntil").as_string())),
            last + std::max<int64_t>(10 * (last - first), 3600 * kSec))
      << r.out;
}

TEST(Simulate, AnUnknownFieldOrAnInvalidValueIsBadInput) {
  TempDir dir;
  std::string j = RecordRollout(dir);
  testing::Run r = Replay(j, {"simulate", "--set", "maxConcurrentPods=3"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown field; use maxConcurrentNodes"), std::string::npos) << r.err;
  testing::Run zero = Replay(j, {"simulate", "--set", "maxConcurrentNodes=0"});
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find("it must be at least 1"), std::string::npos) << zero.err;
  for (const char* factor : {"backoff.factor=inf", "backoff.factor=nan", "backoff.factor=2x"}) {
    testing::Run bad = Replay(j, {"simulate", "--set", factor});
    EXPECT_EQ(bad.exit_code, 2) << factor;
    EXPECT_NE(bad.err.find("not a number"), std::string::npos) << factor << ": " << bad.err;
  }
  // A policy nothing uses would take the --set and change nothing.
  for (const char* policy : {"default", "(default)", "nosuch"}) {
    testing::Run unused =
        Replay(j, {"simulate", "--policy", policy, "--set", "maxConcurrentNodes=1"});
    EXPECT_EQ(unused.exit_code, 2) << policy;
    EXPECT_NE(unused.err.find("; its policies: rollout"), std::string::npos) << unused.err;
  }
  testing::Run alone = Replay(j, {"simulate", "--policy", "rollout"});
  EXPECT_EQ(alone.exit_code, 2);
  EXPECT_NE(alone.err.find("--policy names the PullPolicies --set changes, and no --set is given"),
            std::string::npos)
      << alone.err;
  std::ofstream(dir / "a-file") << "x";
  testing::Run file =
      Replay(j, {"simulate", "--record", dir / "a-file", "--set", "maxConcurrentNodes=2"});
  EXPECT_EQ(file.exit_code, 2);
  EXPECT_NE(file.err.find("/a-file: a file, not a directory"), std::string::npos) << file.err;
  testing::Run huge = Replay(j, {"simulate", "--full-speed-pulls", "99999999999"});
  EXPECT_EQ(huge.exit_code, 2);
  EXPECT_NE(huge.err.find("at most 2147483647"), std::string::npos) << huge.err;
  // drop counts durations in whole milliseconds: a finer one is not quietly cut.
  testing::Run fine = Replay(j, {"simulate", "--set", "minDelayBetweenPulls=500us"});
  EXPECT_EQ(fine.exit_code, 2) << fine.out;
  EXPECT_NE(fine.err.find("--set minDelayBetweenPulls=500us: drop counts durations in whole "
                          "milliseconds, so 500us would run as 0s; write 0s or 1ms"),
            std::string::npos)
      << fine.err;
  EXPECT_EQ(Replay(j, {"simulate", "--set", "pullTimeout=1.5ms"}).exit_code, 2);
  EXPECT_EQ(Replay(j, {"simulate", "--set", "pullTimeout=0.25s"}).exit_code, 0);
  // Spaces around the field and its value are no part of them.
  testing::Run spaced = Replay(j, {"simulate", "--set", " maxConcurrentNodes = 5 "});
  EXPECT_EQ(spaced.exit_code, 0) << spaced.err;
  EXPECT_NE(spaced.out.find("maxConcurrentNodes 4 -> 5"), std::string::npos) << spaced.out;
  testing::Run factor = Replay(j, {"simulate", "--set", "backoff.factor=1.0000001"});
  EXPECT_NE(factor.out.find("backoff.factor 2 -> 1.0000001"), std::string::npos) << factor.out;
  testing::Run twice =
      Replay(j, {"simulate", "--set", "maxConcurrentNodes=5", "--set", "maxConcurrentNodes=10"});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.err.find("--set maxConcurrentNodes=5 and --set maxConcurrentNodes=10 set the "
                           "same field; give it once"),
            std::string::npos)
      << twice.err;
}

}  // namespace
}  // namespace drop::replay
