// drop-controller-manager's flags as a user types them: a bad value is exit code 2 with a message
// that names the flag and what it takes, before anything connects or opens; an address the
// operator cannot listen on says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/k8s/process.h"
#include "tests/support/temp_dir.h"

namespace drop::k8s {
namespace {

struct Ran {
  int exit_code = -1;
  std::string err;
};

// Runs the manager with `args`, and whatever of a harmless setup they leave out: a kubeconfig of
// a server nothing listens on, a journal in a temporary directory, no leader election, no
// listeners. So a check that stops working fails the test instead of starting an operator
// against the user's own cluster.
// It runs at most `seconds`, then gets SIGTERM.
// A kubeconfig of a server nothing listens on.
void WriteUnreachableKubeconfig(const std::string& path) {
  std::ofstream(path) << R"(apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
)";
}

Ran Manager(std::vector<std::string> args, int seconds = 60) {
  drop::testing::TempDir io;
  WriteUnreachableKubeconfig(io / "kc");
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"--kubeconfig", io / "kc"},
      {"--journal-dir", io / "j"},
      {"--leader-elect", "false"},
      {"--metrics-bind-address", "0"},
      {"--health-probe-bind-address", "0"}};
  for (const auto& [flag, value] : defaults) {
    bool given = std::any_of(args.begin(), args.end(), [&](const std::string& a) {
      return a == flag || a.starts_with(flag + "=");
    });
    if (!given) {
      args.push_back(flag + "=" + value);
    }
  }
  std::string cmd = "timeout --preserve-status -s TERM " + std::to_string(seconds) + " " +
                    std::string(DROP_MANAGER);
  for (const std::string& a : args) {
    cmd += " '";
    for (char c : a)
      cmd += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += "'";
  }
  cmd += " >/dev/null 2>" + io / "err" + " </dev/null";
  int status = std::system(cmd.c_str());
  Ran r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream in(io / "err");
  std::stringstream s;
  s << in.rdbuf();
  r.err = s.str();
  return r;
}

TEST(Flags, ABadValueIsExitTwoAndSaysWhatTheFlagTakes) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--namespace", "../../apis/x"}, "is not a namespace name"},
      {{"--namespace", "Drop_System"}, "is not a namespace name"},
      {{"--identity", "a\nb"}, "--identity: must be printable"},
      {{"--identity", "  "}, "--identity: must be printable, not only spaces"},
      {{"--kube-api-qps", "nan"}, "--kube-api-qps: must be a number of requests per second"},
      {{"--kube-api-qps", "-5"}, "--kube-api-qps: must be a number of requests per second"},
      {{"--kube-api-burst", "0"}, "--kube-api-burst"},
      {{"--journal-dir", ""}, "--journal-dir: must name a directory"},
      {{"--journal-dir", "/dev/null"},
       "journal /dev/null: a file, not a directory; give --journal-dir an empty directory"},
      {{"--context", "nosuch"}, "not found; contexts: x"},
      {{"--metrics-bind-address", "[::1]:0"}, "the metrics server takes IPv4 addresses only"},
      {{"--journal-retention", "1d"}, "--journal-retention"},
      {{"--journal-retention", "-1h"}, "--journal-retention: must not be negative"},
      {{"--log-level", "verbose"}, "--log-level: use debug, info, warn or error"},
      {{"--operator-image", "not an image!!"},
       "--operator-image: 'not an image!!' is not an image"},
      // As `--kubeconfig=$KC` runs with KC unset: not a kubeconfig named "--leader-elect".
      {{"--kubeconfig=", "--leader-elect"}, "--kubeconfig= has nothing after the '='"},
      {{"--leader-elect=maybe", "--log-level=info"},
       "--leader-elect = maybe: --leader-elect takes true or false"},
  };
  for (const Case& c : cases) {
    Ran r = Manager(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << " " << c.args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args[0] << ": " << r.err;
  }
}

// Each line of `err` as a JSON object; fails the test on a line that is not one.
std::vector<boost::json::object> JsonLines(const std::string& err) {
  std::vector<boost::json::object> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(line, ec);
    EXPECT_TRUE(!ec && v.is_object()) << "not a JSON object: " << line;
    if (!ec && v.is_object()) lines.push_back(v.as_object());
  }
  return lines;
}

// Past its flags the operator's stderr is its log: a failure is its last JSON line, at error.
TEST(Flags, AFailurePastTheFlagsIsTheLastJsonLineOfTheLog) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--kubeconfig", "/nonexistent/kubeconfig"},
        std::vector<std::string>{"--journal-dir", "/proc/version/journal"}}) {
    Ran r = Manager(args);
    EXPECT_NE(r.exit_code, 0) << r.err;
    std::vector<boost::json::object> lines = JsonLines(r.err);
    ASSERT_FALSE(lines.empty()) << args[1] << ": " << r.err;
    const boost::json::object& last = lines.back();
    EXPECT_EQ(last.at("level"), "error") << r.err;
    ASSERT_TRUE(last.contains("error")) << r.err;
    EXPECT_NE(last.at("error").as_string().find(args[1]), boost::json::string::npos) << r.err;
  }
}

// Waiting to lead on a server it cannot reach, the operator says why it is not leading.
TEST(Flags, ALeaderElectionThatCannotReachItsServerSaysSo) {
  Ran r = Manager({"--leader-elect=true"}, 5);
  EXPECT_EQ(r.exit_code, 0) << r.err;  // stopped by SIGTERM before leading
  size_t warned = 0;
  for (const boost::json::object& line : JsonLines(r.err)) {
    if (line.contains("msg") && line.at("msg") == "leader election failed; retrying") {
      ++warned;
      EXPECT_EQ(line.at("lease"), "drop-system/drop-controller-manager") << r.err;
      EXPECT_NE(line.at("error").as_string().find("127.0.0.1:1"), boost::json::string::npos)
          << r.err;
    }
  }
  EXPECT_GE(warned, 1u) << r.err;
}

// GET http://`address``target`: the status code and body (0 and the error when it cannot).
std::pair<int, std::string> Get(const std::string& address, const std::string& target) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  const size_t colon = address.rfind(':');
  boost::system::error_code ec;
  socket.connect({boost::asio::ip::make_address(address.substr(0, colon)),
                  static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))},
                 ec);
  if (ec) return {0, ec.message()};
  http::request<http::empty_body> req(http::verb::get, target, 11);
  req.set(http::field::host, address);
  http::write(socket, req, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  if (!ec) http::read(socket, buffer, res, ec);
  if (ec) return {0, ec.message()};
  return {res.result_int(), res.body()};
}

// What a manager on a server it cannot reach serves, with /metrics and the probes on ports of
// their own, scraped once its log has a line with message `wait_for`.
struct Served {
  int metrics_code = 0, healthz = 0, readyz = 0, exit_code = -1;
  std::string metrics, readyz_body, log;
};

Served ScrapeManager(const std::string& leader_elect, const std::string& wait_for) {
  drop::testing::TempDir io;
  WriteUnreachableKubeconfig(io / "kc");
  const std::string log = io / "log";
  testing::Child manager({DROP_MANAGER, "--kubeconfig", io / "kc", "--journal-dir", io / "j",
                          "--leader-elect=" + leader_elect, "--metrics-bind-address", "127.0.0.1:0",
                          "--health-probe-bind-address", "127.0.0.1:0"},
                         log);
  boost::json::object listening;
  bool waited = false;
  for (int i = 0; i < 300 && !(waited && !listening.empty()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::istringstream in(testing::ReadFile(log));
    for (std::string line; std::getline(in, line);) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(line, ec);
      if (ec || !v.is_object() || !v.as_object().contains("msg")) continue;
      if (v.as_object().at("msg") == "listening") listening = v.as_object();
      waited = waited || v.as_object().at("msg") == boost::json::string_view(wait_for);
    }
  }
  Served s;
  if (listening.contains("metrics") && listening.contains("health")) {
    const std::string health(listening.at("health").as_string());
    std::tie(s.metrics_code, s.metrics) =
        Get(std::string(listening.at("metrics").as_string()), "/metrics");
    s.healthz = Get(health, "/healthz").first;
    std::tie(s.readyz, s.readyz_body) = Get(health, "/readyz");
  }
  manager.Signal(SIGTERM);
  s.exit_code = manager.Wait(15000);
  s.log = testing::ReadFile(log);
  return s;
}

// A replica waiting to lead serves /metrics (none of drop's series: it has opened no journal) and
// /healthz, and says it is not ready: a standby that refused the scrape would read as a target
// down. One that acts serves drop's metrics from its journal on.
TEST(Flags, AReplicaWaitingToLeadServesMetricsAndHealthButIsNotReady) {
  Served standby = ScrapeManager("true", "leader election failed; retrying");
  EXPECT_EQ(standby.metrics_code, 200) << standby.metrics << standby.log;
  EXPECT_EQ(standby.metrics.find("drop_"), std::string::npos) << standby.metrics;
  EXPECT_EQ(standby.healthz, 200) << standby.log;
  EXPECT_EQ(standby.readyz, 503) << standby.log;
  EXPECT_EQ(standby.readyz_body,
            "not ready: waiting to lead: another replica holds the Lease, or it cannot be "
            "reached\n");
  EXPECT_EQ(standby.log.find("\"journal opened\""), std::string::npos) << standby.log;
  EXPECT_EQ(standby.exit_code, 0) << standby.log;

  Served acting = ScrapeManager("false", "journal opened");
  EXPECT_EQ(acting.metrics_code, 200) << acting.log;
  EXPECT_NE(acting.metrics.find("drop_journal_"), std::string::npos) << acting.metrics;
  EXPECT_EQ(acting.readyz_body, "not ready: the first relist is not journaled yet\n");
  EXPECT_EQ(acting.exit_code, 0) << acting.log;
}

TEST(Flags, AServerUrlWithAPasswordIsRefusedWithoutWritingThePasswordOut) {
  drop::testing::TempDir dir;
  std::ofstream(dir / "kc") << R"(apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://admin:hunter2@127.0.0.1:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
)";
  Ran r = Manager({"--kubeconfig", dir / "kc", "--journal-dir", dir / "j"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("carries user information"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << r.err;
}

TEST(Flags, AMetricsAddressInUseSaysSo) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::string address = "127.0.0.1:" + std::to_string(taken.local_endpoint().port());
  Ran r = Manager({"--metrics-bind-address", address});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(
      r.err.find("--metrics-bind-address " + address + ": cannot listen: Address already in use"),
      std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace drop::k8s
