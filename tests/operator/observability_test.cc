// What the operator shows about itself: metrics (checked by promtool), JSON logs, health probes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <fstream>
#include <span>
#include <vector>

#include "core/loop.h"
#include "k8s/batch_log.h"
#include "k8s/health_server.h"
#include "k8s/log.h"
#include "k8s/metrics.h"
#include "tests/support/builders.h"
#include "tests/support/temp_dir.h"
#include "tests/support/world.h"

namespace drop::k8s {
namespace {

using namespace drop::testing;  // NOLINT(build/namespaces)

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0)
    out.append(buf, n);
  int rc = pclose(p);
  return "rc=" + std::to_string(WEXITSTATUS(rc)) + "\n" + out;
}

// Everything written to the pipe `fd` reads from, once its write end is closed; closes `fd`.
std::string ReadAll(int fd) {
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// A short rollout with a broken image, recorded by the real core.
const World& Rollout() {
  static World* w = [] {
    auto* world = new World();
    for (int i = 0; i < 6; ++i)
      world->PutNode(NodeBuilder("node-" + std::to_string(i)));
    world->PutPolicy(PolicyBuilder("gentle", 2, 0));
    world->PutImage(ImageBuilder("web", "registry.example.com/web:1").Policy("gentle"));
    world->PutImage(ImageBuilder("broken", "registry.example.com/broken:1"));
    world->SetBehaviour([](const v1::Pod& pod) {
      return pod.cached_image() == "broken" ? Pull{Pull::kNotFound, 0} : Pull{Pull::kSucceed, 3000};
    });
    world->Start();
    world->RunFor(120'000);
    return world;
  }();
  return *w;
}

TEST(Metrics, ExposeTheGuidesNamesAndPassPromtool) {
  journal::JournalMetrics journal;
  journal.entries_appended = 10;
  journal.commit_seconds.Observe(0.002);
  Metrics metrics(&journal, [] { return uint64_t{4096}; });
  metrics.Observe(Rollout().journal(), Rollout().state());
  std::string text = metrics.Scrape();
  for (const char* name :
       {"drop_active_pulls", "drop_pull_errors_total", "drop_pull_duration_seconds",
        "drop_reconcile_total", "drop_pacing_decisions_total",
        "drop_journal_entries_appended_total", "drop_journal_commit_duration_seconds_bucket",
        "drop_journal_bytes_on_disk"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name << " missing from:\n" << text;
  }
  EXPECT_NE(text.find("drop_pull_errors_total{image=\"registry.example.com/broken:1\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("drop_pacing_decisions_total{verdict=\"Start\"}"), std::string::npos);
  EXPECT_NE(text.find("drop_active_pulls{policy=\"gentle\"} 0"), std::string::npos) << text;
  TempDir dir;
  std::ofstream(dir / "metrics.txt") << text;
  std::string check = Shell("promtool check metrics < " + dir / "metrics.txt");
  EXPECT_EQ(check.substr(0, 5), "rc=0\n") << check;
}

// A PullPolicy that is deleted, once no pod counts under it, leaves no series behind.
TEST(Metrics, AnActivePullsSeriesGoesWithItsPolicy) {
  journal::JournalMetrics journal;
  Metrics metrics(&journal, [] { return uint64_t{0}; });
  v1::State state = Rollout().state();
  metrics.Observe({}, state);
  const std::string series = "drop_active_pulls{policy=\"gentle\"}";
  ASSERT_NE(metrics.Scrape().find(series), std::string::npos);
  state.clear_policies();
  state.clear_pod_groups();
  metrics.Observe({}, state);
  EXPECT_EQ(metrics.Scrape().find(series), std::string::npos) << metrics.Scrape();
}

// A source's health follows its DiscoveryPolicy's last result, and goes when the policy does or
// when its last result no longer lists the source.
TEST(Metrics, ASourceHealthSeriesFollowsItsPolicysLastResult) {
  journal::JournalMetrics journal;
  Metrics metrics(&journal, [] { return uint64_t{0}; });
  v1::State state;
  v1::DiscoveryRecord* d = state.add_discovery();
  d->mutable_object()->set_name("popular");
  d->mutable_last_result()->set_policy("popular");
  v1::SourceResult* prom = d->mutable_last_result()->add_sources();
  prom->set_name("prom");
  prom->set_healthy(true);
  const std::string series = "drop_discovery_source_health{policy=\"popular\",source=\"prom\"}";
  metrics.Observe({}, state);
  EXPECT_NE(metrics.Scrape().find(series + " 1"), std::string::npos) << metrics.Scrape();
  prom->set_healthy(false);
  prom->set_reason("ConnectionRefused");
  metrics.Observe({}, state);
  EXPECT_NE(metrics.Scrape().find(series + " 0"), std::string::npos) << metrics.Scrape();
  prom->set_name("thanos");
  metrics.Observe({}, state);
  EXPECT_EQ(metrics.Scrape().find(series), std::string::npos) << metrics.Scrape();
  EXPECT_NE(metrics.Scrape().find("source=\"thanos\"} 0"), std::string::npos) << metrics.Scrape();
  state.clear_discovery();
  metrics.Observe({}, state);
  EXPECT_EQ(metrics.Scrape().find("drop_discovery_source_health{"), std::string::npos)
      << metrics.Scrape();
}

TEST(Logger, WritesOneJsonObjectALineWithItsFields) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  Logger log(Level::kInfo, fds[1]);
  log.Info("created pod \"x\"\n",
           {{"controller", "pullpolicy"}, {"reconcileID", "1234"}, {"pod", "drop-web-1"}});
  log.Debug("not shown");
  close(fds[1]);
  std::string out = ReadAll(fds[0]);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  boost::json::object line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("level"), "info");
  EXPECT_EQ(line.at("msg"), "created pod \"x\"\n");
  EXPECT_EQ(line.at("controller"), "pullpolicy");
  EXPECT_EQ(line.at("reconcileID"), "1234");
  EXPECT_EQ(line.at("ts").as_string().size(), std::string("2026-11-25T10:42:46.005Z").size());
  Level level;
  EXPECT_TRUE(Logger::ParseLevel("debug", &level));
  EXPECT_FALSE(Logger::ParseLevel("loud", &level));
}

int Get(uint16_t port, const std::string& target) {
  namespace beast = boost::beast;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  beast::http::request<beast::http::empty_body> req(beast::http::verb::get, target, 11);
  req.set(beast::http::field::host, "localhost");
  beast::http::write(socket, req);
  beast::flat_buffer buffer;
  beast::http::response<beast::http::string_body> res;
  beast::http::read(socket, buffer, res);
  return res.result_int();
}

TEST(HealthServer, AnswersProbesFromItsChecks) {
  std::atomic<bool> ready{false};
  auto endpoint = ParseBindAddress("127.0.0.1:0", "--health-probe-bind-address");
  ASSERT_TRUE(endpoint.ok());
  auto server = HealthServer::Start(
      *endpoint, [] { return true; },
      [&]() -> std::string { return ready ? "" : "the first relist is not journaled yet"; });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  uint16_t port = (*server)->port();
  EXPECT_EQ(Get(port, "/healthz"), 200);
  EXPECT_EQ(Get(port, "/readyz"), 503);
  ready = true;
  EXPECT_EQ(Get(port, "/readyz"), 200);
  EXPECT_EQ(Get(port, "/nope"), 404);
}

TEST(HealthServer, ABusyPortAndABadAddressGetClearErrors) {
  auto first = HealthServer::Start(
      *ParseBindAddress("127.0.0.1:0", "--x"), [] { return true; }, [] { return std::string(); });
  ASSERT_TRUE(first.ok());
  auto taken = ParseBindAddress("127.0.0.1:" + std::to_string((*first)->port()), "--x");
  auto second = HealthServer::Start(
      *taken, [] { return true; }, [] { return std::string(); });
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen"), std::string::npos);
  EXPECT_EQ(ParseBindAddress(":8081", "--health-probe-bind-address")->port(), 8081);
  // A host name is one of its addresses, as Go's net.Listen takes it.
  Result<boost::asio::ip::tcp::endpoint> named =
      ParseBindAddress("localhost:8081", "--health-probe-bind-address");
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_TRUE(named->address().is_loopback()) << named->address().to_string();
  EXPECT_EQ(named->port(), 8081);
  auto bad = ParseBindAddress("localhost", "--health-probe-bind-address");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--health-probe-bind-address \"localhost\""),
            std::string::npos);
}

}  // namespace
}  // namespace drop::k8s

namespace drop::k8s {
namespace {

TEST(BatchLog, EveryActionLineCarriesControllerReconcileIdAndObject) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    Logger log(Level::kInfo, fds[1]);
    BatchLog batches(log);
    batches(Rollout().journal());
  }
  close(fds[1]);
  std::string out = ReadAll(fds[0]);
  int creates = 0, failures = 0, policy_writes = 0;
  for (size_t at = 0, next; at < out.size(); at = next + 1) {
    next = out.find('\n', at);
    boost::json::object line = boost::json::parse(out.substr(at, next - at)).as_object();
    const std::string msg(line.at("msg").as_string());
    if (msg == "creating drop pod") {
      ++creates;
      EXPECT_EQ(line.at("controller"), "pullpolicy");
      EXPECT_TRUE(line.contains("reconcileID"));
      EXPECT_TRUE(line.contains("pullpolicy"));
      EXPECT_TRUE(line.contains("node"));
      // The reconcileID leads to the journal: it is the ReconcileStarted entry's seq.
      uint64_t id = std::stoull(std::string(line.at("reconcileID").as_string()));
      EXPECT_TRUE(Rollout().journal()[id - 1].has_reconcile());
    }
    if (msg == "writing status") {
      // A pacing pass writes the status of an image it held, too: the line names the image.
      EXPECT_TRUE(line.contains("cachedimage")) << out.substr(at, next - at);
      policy_writes += line.at("controller") == "pullpolicy";
    }
    if (msg == "pull failed") {
      ++failures;
      EXPECT_EQ(line.at("level"), "warn");
      EXPECT_EQ(line.at("controller"), "cachedimage");
      EXPECT_EQ(line.at("cachedimage"), "broken");
    }
    EXPECT_EQ(out.find("token"), std::string::npos);
  }
  EXPECT_GT(creates, 6);
  EXPECT_GT(failures, 0);
  EXPECT_GT(policy_writes, 0) << "a pass holding broken in its backoff writes its status";
}

TEST(BatchLog, AFailedWriteCarriesTheReconcileThatIssuedIt) {
  // The write's result comes back in a later batch, with no reconcile of its own.
  const std::vector<v1::Entry>& journal = Rollout().journal();
  auto create = std::find_if(journal.begin(), journal.end(), [](const v1::Entry& e) {
    return e.has_action() && e.action().has_create_pod();
  });
  ASSERT_NE(create, journal.end());
  v1::Entry refused =
      ActionResultOf(*create, v1::ACTION_CREATE_POD, create->action().create_pod().pod().name(),
                     false, 403, "Forbidden");
  refused.set_seq(journal.back().seq() + 1);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    Logger log(Level::kWarn, fds[1]);
    BatchLog batches(log);
    batches(std::span(journal.begin(), create + 1));
    batches(std::span(&refused, 1));
  }
  close(fds[1]);
  // At warn, the failed write is the one line.
  std::string out = ReadAll(fds[0]);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  boost::json::object line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("msg"), "API write failed");
  EXPECT_EQ(line.at("controller"), "pullpolicy");
  EXPECT_EQ(line.at("reconcileID").as_string(), std::to_string(create->reconcile_id()));
  EXPECT_EQ(line.at("reason"), "Forbidden");
}

// A PullPolicy has no status: its spec error is a warning in the log, tied to the reconcile that
// found it, as well as an Event on it.
TEST(BatchLog, AnInvalidPullPolicyIsAWarningLineOnceForItsGeneration) {
  World w;
  StartWithAnInvalidPolicy(&w);
  w.RunFor(10'000);
  w.PutPolicy(PolicyBuilder("broken", 0));  // the same generation again
  w.RunFor(10'000);
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    Logger log(Level::kWarn, fds[1]);
    BatchLog batches(log);
    batches(w.journal());
  }
  close(fds[1]);
  std::string out = ReadAll(fds[0]);
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  boost::json::object line = boost::json::parse(out).as_object();
  EXPECT_EQ(line.at("level"), "warn");
  EXPECT_EQ(line.at("msg"), "PullPolicy is invalid");
  EXPECT_EQ(line.at("controller"), "pullpolicy");
  EXPECT_EQ(line.at("pullpolicy"), "broken");
  EXPECT_TRUE(line.contains("reconcileID"));
  EXPECT_EQ(line.at("reason"), "InvalidSpec");
  EXPECT_EQ(line.at("message"),
            "PullPolicy broken: spec.maxConcurrentNodes is 0; it must be at least 1; no "
            "CachedImage under it pulls until it is fixed");
}

}  // namespace
}  // namespace drop::k8s
