// The client over a scripted transport: which failures are retried and how, credentials that
// refresh on 401, the rate limiter, errors that name the request, watch streams cut anywhere, and
// Event aggregation.
#include "k8s/client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "core/utf8.h"
#include "k8s/backoff.h"
#include "k8s/event_recorder.h"
#include "k8s/exec_plugin.h"
#include "k8s/informer.h"
#include "k8s/io_thread.h"
#include "k8s/json_util.h"
#include "k8s/rate_limiter.h"
#include "k8s/watch_stream.h"
#include "tests/k8s/fake_transport.h"
#include "tests/k8s/process.h"
#include "tests/support/temp_dir.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;
using testing::Fail;
using testing::FakeTransport;
using testing::Respond;
using Clock = std::chrono::steady_clock;

// A client on a scripted transport, with fast retries.
struct Fixture {
  explicit Fixture(Config config = {}, ClientOptions options = Quick()) {
    transport = std::make_shared<FakeTransport>();
    if (config.server.empty()) config.server = "https://127.0.0.1:6443";
    client = Client::CreateWithTransport(io.executor(), transport, config, std::move(options));
  }
  ~Fixture() {
    io.Stop();
    client.reset();
  }
  static ClientOptions Quick() {
    ClientOptions o;
    o.identity = "replica-1";
    o.qps = 0;
    o.retry_backoff =
        BackoffPolicy{std::chrono::milliseconds(1), std::chrono::milliseconds(5), 2, 0};
    return o;
  }
  template <typename T>
  T Run(boost::asio::awaitable<T> task) {
    return RunSync(io.executor(), std::move(task));
  }

  IoThread io;
  std::shared_ptr<FakeTransport> transport;
  std::shared_ptr<Client> client;
};

json::object Pod(const std::string& name) {
  return json::object{{"metadata", json::object{{"name", name}, {"namespace", "drop-system"}}}};
}

// A response that is not a metav1.Status keeps the start of its body in the message, which is
// journaled as text: cut at 200 bytes, it may split a character, and a proxy may send anything.
TEST(ApiStatus, ABodyThatIsNotAStatusIsKeptAsUtf8OnOneLine) {
  RequestInfo info;
  info.verb = "create";
  info.resource = "pods";
  info.namespace_ = "drop-system";
  const std::string body = std::string(199, 'x') + "\xC3\xA9 and more\n\xFF";
  ApiStatus s = ApiStatusFromResponse(info, 502, body);
  EXPECT_TRUE(IsUtf8(s.message())) << s.message();
  EXPECT_NE(s.message().find(": 502 "), std::string::npos) << s.message();
  EXPECT_TRUE(s.message().ends_with(std::string(199, 'x') + "\xEF\xBF\xBD")) << s.message();
  ApiStatus lines = ApiStatusFromResponse(info, 502, "<html>\r\n<body>bad gateway\xFF</body>");
  EXPECT_NE(lines.message().find("<html>  <body>bad gateway\xEF\xBF\xBD</body>"), std::string::npos)
      << lines.message();
}

TEST(Client, TooManyRequestsIsRetriedAfterRetryAfterEvenForACreate) {
  Fixture f;
  f.transport->script = {Respond(429, R"({"kind":"Status","reason":"TooManyRequests"})", "1"),
                         Respond(201, R"({"metadata":{"name":"p","uid":"u1"}})")};
  auto t0 = Clock::now();
  ApiResult<json::object> r = f.Run(f.client->Create(kPods, "drop-system", Pod("p")));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(UidOf(*r), "u1");
  EXPECT_EQ(f.transport->requests.size(), 2u);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(900));  // waited the Retry-After
  EXPECT_EQ(f.client->stats().too_many_requests, 1u);
}

TEST(Client, ServerErrorIsNotRetriedForACreate) {
  Fixture f;
  f.transport->script = {Respond(500, R"({"kind":"Status","message":"etcd timed out"})")};
  ApiResult<json::object> r = f.Run(f.client->Create(kPods, "drop-system", Pod("p")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_code(), 500);
  EXPECT_EQ(r.status().reason(), "InternalError");
  EXPECT_EQ(r.status().message(),
            "create pods p in namespace drop-system: 500 InternalError: etcd timed out");
  EXPECT_EQ(f.transport->requests.size(), 1u);
}

TEST(Client, EachRetryIsToldWithItsErrorAndWait) {
  std::vector<std::string> told;
  ClientOptions o = Fixture::Quick();
  o.on_retry = [&](const ApiStatus& error, std::chrono::milliseconds wait) {
    told.push_back(error.message() + " / " + std::to_string(wait.count()) + "ms");
  };
  Fixture f({}, o);
  f.transport->script = {Respond(503, R"({"kind":"Status","message":"etcd is slow"})"),
                         Fail(/*sent=*/false), Respond(200, R"({"metadata":{"name":"n"}})")};
  ApiResult<json::object> r = f.Run(f.client->Get(kNodes, "", "n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told[0], "get nodes n: 503 ServiceUnavailable: etcd is slow / 1ms");
  EXPECT_NE(told[1].find("get nodes n: "), std::string::npos) << told[1];
  EXPECT_NE(told[1].find(" / 2ms"), std::string::npos) << told[1];
}

// A stop (the operator's shutdown) ends a wait to retry at once, with the error the call has,
// and no call tries again after it.
TEST(Client, StopRetryingEndsAWaitWithTheErrorItHas) {
  std::promise<void> waiting;
  ClientOptions o = Fixture::Quick();
  o.retry_backoff = BackoffPolicy{std::chrono::minutes(1), std::chrono::minutes(1), 2, 0};
  o.on_retry = [&](const ApiStatus&, std::chrono::milliseconds) { waiting.set_value(); };
  Fixture f({}, o);
  f.transport->script = {Respond(503, R"({"kind":"Status","message":"etcd is slow"})"),
                         Respond(503, R"({"kind":"Status","message":"still slow"})")};
  auto t0 = Clock::now();
  std::future<ApiResult<json::object>> r =
      std::async(std::launch::async, [&] { return f.Run(f.client->Get(kNodes, "", "n")); });
  waiting.get_future().wait();
  f.client->StopRetrying();
  ASSERT_EQ(r.wait_for(std::chrono::seconds(30)), std::future_status::ready)
      << "still waiting out the minute";
  ApiResult<json::object> got = r.get();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(30));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().message(), "get nodes n: 503 ServiceUnavailable: etcd is slow");
  ApiResult<json::object> next = f.Run(f.client->Get(kNodes, "", "n"));
  EXPECT_EQ(next.status().message(), "get nodes n: 503 ServiceUnavailable: still slow");
  EXPECT_EQ(f.transport->requests.size(), 2u);
}

TEST(Client, ServerErrorIsRetriedForAGet) {
  Fixture f;
  f.transport->script = {Respond(503, "unavailable"), Respond(504, "gateway"),
                         Respond(200, R"({"metadata":{"name":"n"}})")};
  ApiResult<json::object> r = f.Run(f.client->Get(kNodes, "", "n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(f.transport->requests.size(), 3u);
  EXPECT_EQ(f.client->stats().server_errors, 2u);
}

TEST(Client, ConnectionErrorAfterSendingIsNotRetriedForACreate) {
  Fixture f;
  f.transport->script = {Fail(/*sent=*/true)};
  ApiResult<json::object> r = f.Run(f.client->Create(kPods, "drop-system", Pod("p")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_code(), 0);
  EXPECT_EQ(r.status().reason(), kReasonConnectionError);
  EXPECT_NE(r.status().message().find("not retried: the server may have applied it"),
            std::string::npos);
  EXPECT_EQ(f.transport->requests.size(), 1u);
}

TEST(Client, ConnectionErrorBeforeSendingIsRetriedForACreate) {
  Fixture f;
  f.transport->script = {Fail(/*sent=*/false), Respond(201, R"({"metadata":{"name":"p"}})")};
  ApiResult<json::object> r = f.Run(f.client->Create(kPods, "drop-system", Pod("p")));
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(f.transport->requests.size(), 2u);
}

TEST(Client, IdempotentCreateIsRetriedAfterAConnectionError) {
  Fixture f;
  f.transport->script = {Fail(/*sent=*/true), Respond(201, R"({"metadata":{"name":"p"}})")};
  ApiResult<json::object> r =
      f.Run(f.client->Create(kPods, "drop-system", Pod("p"), /*idempotent=*/true));
  EXPECT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(f.transport->requests.size(), 2u);
}

TEST(Client, RetriesStopAtTheLimit) {
  ClientOptions o = Fixture::Quick();
  o.max_retries = 3;
  Fixture f({}, o);
  for (int i = 0; i < 10; ++i)
    f.transport->script.push_back(Respond(503, "down"));
  ApiResult<json::object> r = f.Run(f.client->Get(kNodes, "", "n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().http_code(), 503);
  EXPECT_EQ(f.transport->requests.size(), 4u);
}

TEST(Client, ErrorsCarryCodeReasonAndTheServersMessage) {
  Fixture f;
  f.transport->script = {Respond(
      404,
      R"({"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404})")};
  ApiResult<json::object> r = f.Run(f.client->Get(kPods, "drop-system", "x"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(r.status().reason(), "NotFound");
  EXPECT_EQ(r.status().message(),
            "get pods x in namespace drop-system: 404 NotFound: pods \"x\" not found");
  EXPECT_EQ(r.status().ToStatus().code(), Status::Code::kNotFound);
}

TEST(Client, RequestsCarryUserAgentAuthorizationAndPaths) {
  Config config;
  config.token = "secret";
  Fixture f(config);
  f.transport->script = {
      Respond(200, R"({"metadata":{"resourceVersion":"7","continue":"c2"},"items":[{}]})")};
  ListOptions lo;
  lo.label_selector = "app.kubernetes.io/managed-by=drop";
  lo.limit = 50;
  ApiResult<ListPage> page = f.Run(f.client->List(kPods, "drop-system", lo));
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->resource_version, "7");
  EXPECT_EQ(page->continue_token, "c2");
  EXPECT_EQ(page->items.size(), 1u);
  const HttpRequest& req = f.transport->requests.at(0);
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target,
            "/api/v1/namespaces/drop-system/"
            "pods?limit=50&labelSelector=app.kubernetes.io%2Fmanaged-by%3Ddrop");
  EXPECT_EQ(req.authorization, "Bearer secret");
  EXPECT_EQ(req.user_agent, std::string("drop/") + kDropVersion + " (replica-1)");
  EXPECT_EQ(kCachedImages.Path("", "web", "status"),
            "/apis/drop.io/v1alpha1/cachedimages/web/status");
}

TEST(Client, UnauthorizedRereadsTheTokenFile) {
  drop::testing::TempDir tmp;
  testing::WriteFile(tmp / "token", "old\n");
  Config config;
  config.token_file = tmp / "token";
  Fixture f(config);
  f.transport->script = {Respond(200), Respond(401, R"({"kind":"Status","reason":"Unauthorized"})"),
                         Respond(200)};
  ASSERT_TRUE(f.Run(f.client->Get(kNodes, "", "n")).ok());
  testing::WriteFile(tmp / "token", "new\n");  // rotated
  ApiResult<json::object> r = f.Run(f.client->Get(kNodes, "", "n"));
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(f.transport->requests.size(), 3u);
  EXPECT_EQ(f.transport->requests[0].authorization, "Bearer old");
  EXPECT_EQ(f.transport->requests[1].authorization, "Bearer old");  // cached for a minute
  EXPECT_EQ(f.transport->requests[2].authorization, "Bearer new");
}

TEST(Client, UnauthorizedWithAFixedTokenIsAnError) {
  Config config;
  config.token = "wrong";
  Fixture f(config);
  f.transport->script = {
      Respond(401, R"({"kind":"Status","reason":"Unauthorized","message":"Unauthorized"})")};
  ApiResult<json::object> r = f.Run(f.client->Get(kNodes, "", "n"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsUnauthorized());
  EXPECT_EQ(f.transport->requests.size(), 1u);
}

TEST(Client, WatchRetriesTooManyRequestsAndDecodesEvents) {
  Fixture f;
  testing::Scripted stream = Respond(
      200,
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
      "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\n");
  stream.chunk = 7;
  f.transport->script = {Respond(429, "{}", "0"), stream};
  std::vector<std::string> seen;
  auto read = [](std::shared_ptr<Client> c,
                 std::vector<std::string>* out) -> boost::asio::awaitable<ApiStatus> {
    WatchOptions wo;
    wo.resource_version = "4";
    ApiResult<std::unique_ptr<WatchStream>> w = co_await c->Watch(kNodes, "", wo);
    if (!w.ok()) co_return w.status();
    while (true) {
      ApiResult<std::optional<WatchEvent>> e = co_await (*w)->Next();
      if (!e.ok()) co_return e.status();
      if (!e->has_value()) co_return ApiStatus();
      out->push_back(std::to_string(static_cast<int>((*e)->type)) + ":" +
                     std::string(ResourceVersionOf(*(*e)->object)));
    }
  };
  ApiStatus s = f.Run(read(f.client, &seen));
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(seen, (std::vector<std::string>{"0:5", "3:9"}));
  ASSERT_EQ(f.transport->requests.size(), 2u);
  EXPECT_EQ(f.transport->requests[1].target,
            "/api/v1/nodes?watch=true&allowWatchBookmarks=true&resourceVersion=4");
}

TEST(WatchDecoder, EventsSurviveBeingCutAtEveryByte) {
  const std::string stream =
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
      "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"},"
      "\"status\":{\"images\":[{\"names\":[\"x:1\",\"y\\u00e9\"]}]}}}\n"
      "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\n";
  for (size_t cut = 1; cut <= stream.size(); ++cut) {
    WatchDecoder d;
    std::vector<std::string> got;
    size_t pos = 0;
    while (pos < stream.size()) {
      size_t end = std::min(stream.size(), pos + cut);
      while (pos < end) {
        Result<size_t> used = d.Feed(stream.data() + pos, end - pos);
        ASSERT_TRUE(used.ok()) << used.status().ToString();
        pos += *used;
        if (std::optional<WatchEvent> e = d.event()) {
          got.push_back(std::to_string(static_cast<int>(e->type)) + ":" +
                        std::string(ResourceVersionOf(*e->object)) +
                        std::to_string(GetInt(e->object, "code")));
        }
      }
    }
    EXPECT_EQ(got, (std::vector<std::string>{"0:10", "1:20", "4:410"})) << "cut " << cut;
    EXPECT_TRUE(d.between_events());
  }
}

TEST(WatchDecoder, GarbageIsAnError) {
  WatchDecoder d;
  const std::string bad = "{\"type\": nope}\n";
  Result<size_t> used = d.Feed(bad.data(), bad.size());
  EXPECT_FALSE(used.ok());
}

TEST(RateLimiter, BurstThenQps) {
  RateLimiter limiter(10, 3);
  Clock::time_point t0{};
  EXPECT_EQ(limiter.Reserve(t0), Clock::duration::zero());
  EXPECT_EQ(limiter.Reserve(t0), Clock::duration::zero());
  EXPECT_EQ(limiter.Reserve(t0), Clock::duration::zero());
  // The burst is spent: the next ones wait 100 ms apart.
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.Reserve(t0)).count(),
            100);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(limiter.Reserve(t0)).count(),
            200);
  // A second later the debt is paid and tokens refill up to the burst only.
  EXPECT_EQ(limiter.Reserve(t0 + std::chrono::seconds(10)), Clock::duration::zero());
  EXPECT_TRUE(limiter.TryTake(t0 + std::chrono::seconds(10)));
  EXPECT_TRUE(limiter.TryTake(t0 + std::chrono::seconds(10)));
  EXPECT_FALSE(limiter.TryTake(t0 + std::chrono::seconds(10)));
  RateLimiter off(0, 1);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(off.Reserve(t0), Clock::duration::zero());
}

TEST(Backoff, GrowsIsJitteredAndCapped) {
  Backoff b(BackoffPolicy{std::chrono::milliseconds(800), std::chrono::milliseconds(30000), 2, 1.0},
            42);
  std::vector<int64_t> waits;
  for (int i = 0; i < 10; ++i)
    waits.push_back(b.Next().count());
  EXPECT_GE(waits[0], 800);
  EXPECT_LT(waits[0], 1600);
  EXPECT_GE(waits[2], 3200);
  EXPECT_LT(waits[2], 6400);
  for (int64_t w : waits)
    EXPECT_LE(w, 30000);
  EXPECT_EQ(waits[9], 30000);  // 800 * 2^9 is past the cap
  b.Reset();
  EXPECT_LT(b.Next().count(), 1600);
}

TEST(ExecCredential, OutputIsChecked) {
  ExecConfig exec;
  exec.command = "get-token";
  exec.api_version = "client.authentication.k8s.io/v1";
  exec.source = "kubeconfig k: users[\"u\"].user.exec";
  Result<ExecCredential> ok = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}})",
      exec);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->token, "t");
  EXPECT_EQ(ok->expiry_ms, 1893456000000);
  Result<ExecCredential> version = ParseExecCredential(
      R"({"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}})",
      exec);
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.status().message(),
            "exec plugin get-token (kubeconfig k: users[\"u\"].user.exec): printed apiVersion "
            "\"client.authentication.k8s.io/v1beta1\" but the kubeconfig asks for "
            "client.authentication.k8s.io/v1");
  EXPECT_FALSE(
      ParseExecCredential(
          R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})",
          exec)
          .ok());
  EXPECT_FALSE(ParseExecCredential("token: t", exec).ok());
}

// Event aggregation, with the clock in the test's hands.
struct EventFixture : Fixture {
  EventFixture() {
    EventRecorderOptions o;
    o.instance = "replica-1";
    o.now_ms = [this] { return now_ms; };
    recorder = std::make_unique<EventRecorder>(client, o);
  }
  EventOutcome Record(const std::string& reason, const std::string& message) {
    std::promise<EventOutcome> done;
    recorder->Record(object, "Warning", reason, message,
                     [&](EventOutcome o, const ApiStatus&) { done.set_value(o); });
    return done.get_future().get();
  }
  ObjectReference object{"drop.io/v1alpha1", "CachedImage", "web", "", "uid-1"};
  int64_t now_ms = 1'800'000'000'000;
  std::unique_ptr<EventRecorder> recorder;
};

TEST(EventRecorder, ARepeatIsCountedOnTheSameEvent) {
  EventFixture f;
  f.transport->script = {Respond(201, R"({"count":1})"), Respond(200, R"({"count":2})"),
                         Respond(200, R"({"count":3})")};
  EXPECT_EQ(f.Record("PullFailed", "pull of x on node-1 failed"), EventOutcome::kCreated);
  f.now_ms += 10'000;
  EXPECT_EQ(f.Record("PullFailed", "pull of x on node-1 failed"), EventOutcome::kPatched);
  EXPECT_EQ(f.Record("PullFailed", "pull of x on node-1 failed"), EventOutcome::kPatched);
  ASSERT_EQ(f.transport->requests.size(), 3u);
  const HttpRequest& create = f.transport->requests[0];
  EXPECT_EQ(create.method, "POST");
  EXPECT_EQ(create.target, "/api/v1/namespaces/default/events");  // a cluster-scoped object
  json::object event = json::parse(create.body).as_object();
  EXPECT_EQ(GetString(event, "reason"), "PullFailed");
  EXPECT_EQ(GetString(GetObject(event, "involvedObject"), "kind"), "CachedImage");
  EXPECT_EQ(GetString(GetObject(event, "source"), "component"), "drop-controller-manager");
  EXPECT_EQ(GetString(event, "reportingInstance"), "replica-1");
  const std::string name = std::string(NameOf(event));
  EXPECT_EQ(name.rfind("web.", 0), 0u);
  const HttpRequest& patch = f.transport->requests[2];
  EXPECT_EQ(patch.method, "PATCH");
  EXPECT_EQ(patch.target, "/api/v1/namespaces/default/events/" + name);
  EXPECT_EQ(patch.content_type, "application/strategic-merge-patch+json");
  json::object p = json::parse(patch.body).as_object();
  EXPECT_EQ(GetInt(&p, "count"), 3);
  EXPECT_EQ(GetString(p, "lastTimestamp"), "2027-01-15T08:00:10Z");
}

TEST(EventRecorder, ManySimilarMessagesAreCombined) {
  EventFixture f;
  for (int i = 0; i < 40; ++i)
    f.transport->script.push_back(Respond(201, R"({"count":1})"));
  int created = 0, patched = 0;
  for (int i = 0; i < 15; ++i) {
    EventOutcome o = f.Record("PullFailed", "pull on node-" + std::to_string(i) + " failed");
    created += o == EventOutcome::kCreated;
    patched += o == EventOutcome::kPatched;
  }
  // Nine Events with their own messages, then one combined Event counted on.
  EXPECT_EQ(created, 10);
  EXPECT_EQ(patched, 5);
  json::object combined = json::parse(f.transport->requests[9].body).as_object();
  EXPECT_EQ(GetString(combined, "message"),
            "(combined from similar events): pull on node-9 failed");
}

TEST(EventRecorder, AnObjectThatFloodsIsCutOff) {
  EventFixture f;
  for (int i = 0; i < 40; ++i)
    f.transport->script.push_back(Respond(201, R"({"count":1})"));
  int dropped = 0;
  for (int i = 0; i < 30; ++i) {
    dropped += f.Record("Reason" + std::to_string(i), "m") == EventOutcome::kDropped;
  }
  EXPECT_EQ(dropped, 5);  // a burst of 25
  f.now_ms += 300'000;    // one more token every 5 minutes
  EXPECT_EQ(f.Record("Later", "m"), EventOutcome::kCreated);
  EXPECT_EQ(f.Record("Later2", "m"), EventOutcome::kDropped);
}

// The informer retries a failed list on its own, and says so: the call, the server's error and
// the wait, as the operator logs them.
TEST(Informer, AFailedListIsToldWithTheServersErrorAndTheWaitBeforeTheNextTry) {
  Fixture f;
  const std::string forbidden =
      R"({"kind":"Status","reason":"Forbidden","message":"nodes is forbidden: User \"drop\" cannot list resource \"nodes\""})";
  f.transport->script = {Respond(403, forbidden), Respond(403, forbidden)};
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> told;
  std::vector<std::chrono::milliseconds> waits;
  InformerOptions o = OperatorInformers()[3];
  ASSERT_EQ(o.kind, v1::KIND_NODE);
  o.backoff = BackoffPolicy{std::chrono::milliseconds(20), std::chrono::milliseconds(40), 2, 0};
  o.on_error = [&](std::string_view call, const std::string& error,
                   std::chrono::milliseconds retry_in) {
    std::lock_guard lock(mu);
    told.emplace_back(std::string(call), error);
    waits.push_back(retry_in);
  };
  Informer informer(f.client, o, [](v1::Entry) {});
  informer.Start();
  for (int i = 0; i < 200; ++i) {
    {
      std::lock_guard lock(mu);
      if (told.size() >= 2) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  informer.Stop();
  EXPECT_TRUE(informer.WaitStopped(std::chrono::seconds(2)));
  std::lock_guard lock(mu);
  ASSERT_GE(told.size(), 2u);
  EXPECT_EQ(told[0].first, "list");
  EXPECT_NE(told[0].second.find("403 Forbidden: nodes is forbidden"), std::string::npos)
      << told[0].second;
  EXPECT_EQ(waits[0], std::chrono::milliseconds(20));
  EXPECT_EQ(waits[1], std::chrono::milliseconds(40));
  EXPECT_EQ(informer.stats().last_error, told.back().second);
}

}  // namespace
}  // namespace drop::k8s
