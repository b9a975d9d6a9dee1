// Leader election between two processes (tests/k8s/lease_child.cc) on the real API server, with
// the default timings (lease 15 s, renew deadline 10 s, retry 2 s). The leader is frozen
// (SIGSTOP) past its lease, then killed (SIGKILL); judged from the API server's audit log by
// User-Agent: the two replicas never act at the same time, a frozen leader does not act once it
// wakes up after losing the Lease, and the other takes over within the lease duration plus its
// retries.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <iostream>
#include <thread>

#include "core/duration.h"
#include "k8s/client.h"
#include "k8s/json_util.h"
#include "tests/k8s/test_cluster.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;
using testing::Child;
using testing::TestCluster;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A write to the work ConfigMap, as the audit log has it: who and when (server time, ms).
struct Act {
  std::string who;
  int64_t received_ms;
  int64_t completed_ms;
};

std::vector<Act> Acts(const std::string& audit) {
  std::vector<Act> acts;
  std::istringstream in(audit);
  const std::string prefix = std::string("drop/") + kDropVersion + " (";
  for (std::string line; std::getline(in, line);) {
    if (line.find("leader-work") == std::string::npos) continue;
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::object& e = v.as_object();
    std::string_view verb = GetString(e, "verb");
    if (verb != "patch" && verb != "update") continue;
    if (GetString(GetObject(e, "objectRef"), "resource") != "configmaps") continue;
    std::string ua(GetString(e, "userAgent"));
    if (ua.rfind(prefix, 0) != 0) continue;
    Act a;
    a.who = ua.substr(prefix.size(), ua.size() - prefix.size() - 1);
    a.received_ms = *ParseTime(GetString(e, "requestReceivedTimestamp"));
    a.completed_ms = *ParseTime(GetString(e, "stageTimestamp"));
    acts.push_back(a);
  }
  std::sort(acts.begin(), acts.end(),
            [](const Act& a, const Act& b) { return a.received_ms < b.received_ms; });
  return acts;
}

// The Lease's holder as kubectl reads it ("" when free or missing).
std::string Holder(const TestCluster& c) {
  testing::ProcessResult r;
  for (int attempt = 0; attempt < 5; ++attempt) {
    r = c.Kubectl({"get", "lease", "-n", "drop-system", "drop-controller-manager",
                   "--ignore-not-found", "-o", "jsonpath={.spec.holderIdentity}"});
    if (r.exit_code == 0) return r.out;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return "(kubectl failed: " + r.Describe() + ")";
}

bool WaitFor(const std::function<bool()>& cond, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

TEST(LeaderElection, TwoProcessesNeverActTogetherAndTakeOverAfterAKill) {
  Result<std::unique_ptr<TestCluster>> started = TestCluster::Start({"--nodes", "1"});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  TestCluster& cluster = **started;
  ASSERT_TRUE(cluster.Namespace("drop-system").ok());
  ASSERT_EQ(cluster.Kubectl({"create", "configmap", "-n", "drop-system", "leader-work"}).exit_code,
            0);
  const std::string log = cluster.dir() + "/replicas.log";
  const std::vector<std::string> a_argv{LEASE_CHILD, cluster.direct_kubeconfig(), "replica-a"};
  const std::vector<std::string> b_argv{LEASE_CHILD, cluster.direct_kubeconfig(), "replica-b"};
  const int64_t lease_ms = 15000, retry_ms = 2000;

  auto a = std::make_unique<Child>(a_argv, log);
  ASSERT_TRUE(WaitFor([&] { return Holder(cluster) == "replica-a"; }, 30))
      << testing::ReadFile(log);
  auto b = std::make_unique<Child>(b_argv, log);
  std::this_thread::sleep_for(std::chrono::seconds(4));  // b campaigns and sees a renewing
  EXPECT_EQ(Holder(cluster), "replica-a");

  // a freezes past its lease: b takes over; when a wakes up it must not act.
  a->Signal(SIGSTOP);
  const int64_t frozen_ms = NowMs();
  ASSERT_TRUE(WaitFor([&] { return Holder(cluster) == "replica-b"; }, 40))
      << testing::ReadFile(log);
  const int64_t b_leads_ms = NowMs();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  a->Signal(SIGCONT);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_EQ(Holder(cluster), "replica-b");

  // b dies: a takes over.
  b->Signal(SIGKILL);
  const int64_t killed_ms = NowMs();
  b->Wait(5000);
  ASSERT_TRUE(WaitFor([&] { return Holder(cluster) == "replica-a"; }, 40))
      << testing::ReadFile(log);
  std::this_thread::sleep_for(std::chrono::seconds(2));

  // a stops cleanly and gives the Lease up.
  a->Signal(SIGTERM);
  EXPECT_EQ(a->Wait(15000), 0) << testing::ReadFile(log);
  EXPECT_EQ(Holder(cluster), "");

  std::vector<Act> acts = Acts(testing::ReadFile(cluster.audit_log()));
  ASSERT_FALSE(acts.empty());
  // Runs of acts by one replica: a, then b, then a again, never interleaved or overlapping.
  std::vector<std::pair<std::string, std::pair<int64_t, int64_t>>> runs;  // who, [first, last]
  for (const Act& act : acts) {
    if (runs.empty() || runs.back().first != act.who) {
      if (!runs.empty()) {
        EXPECT_LT(runs.back().second.second, act.received_ms)
            << act.who << " acted while " << runs.back().first << " was still acting";
      }
      runs.push_back({act.who, {act.received_ms, act.completed_ms}});
    }
    runs.back().second.second = std::max(runs.back().second.second, act.completed_ms);
  }
  std::string order;
  for (const auto& r : runs)
    order += r.first + " ";
  EXPECT_EQ(order, "replica-a replica-b replica-a ") << "who acted, in order";
  if (runs.size() == 3) {
    // a acted last before it froze; b started no earlier than a's lease could have expired.
    EXPECT_LE(runs[0].second.second, frozen_ms + 1000);
    EXPECT_GE(runs[1].second.first, runs[0].second.second + lease_ms - 5000)
        << "b acted before a's lease could have run out";
    // The takeover after the kill: within the lease duration plus the candidate's retries (the
    // last renewal seen up to 1.2 retry periods late, and one more attempt), with slack for a
    // busy machine.
    const int64_t takeover = runs[2].second.first - killed_ms;
    std::cerr << "[test] takeover after SIGSTOP: " << (runs[1].second.first - frozen_ms)
              << " ms (holder seen after " << (b_leads_ms - frozen_ms)
              << " ms); after SIGKILL: " << takeover << " ms\n";
    EXPECT_LE(takeover, lease_ms + 2 * retry_ms * 12 / 10 + 3000);
  }
}

}  // namespace
}  // namespace drop::k8s
