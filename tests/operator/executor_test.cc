// The executor's status writes over a scripted transport (tests/k8s/fake_transport.h): what a
// CachedImage's lane remembers between its writes, and that it forgets it.
#include "k8s/executor.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <vector>

#include "k8s/io_thread.h"
#include "tests/k8s/fake_transport.h"

namespace drop::k8s {
namespace {

using testing::FakeTransport;
using testing::Respond;

// The executor on a client over a scripted transport, and the results it reports.
struct Fixture {
  explicit Fixture(std::chrono::steady_clock::duration forget_lanes_after) {
    transport = std::make_shared<FakeTransport>();
    Config config;
    config.server = "https://127.0.0.1:6443";
    ClientOptions options;
    options.identity = "replica-1";
    options.qps = 0;
    client = Client::CreateWithTransport(io.executor(), transport, config, options);
    executor = std::make_unique<ApiExecutor>(
        client, nullptr,
        [this](v1::Entry e) {
          std::lock_guard lock(mu);
          results.push_back(std::move(e));
          cv.notify_all();
        },
        [] { return true; }, forget_lanes_after);
  }
  ~Fixture() {
    executor.reset();
    io.Stop();
    client.reset();
  }

  // Issues a status write of CachedImage `name` made from `version`, and waits for its result.
  v1::Entry WriteStatus(const std::string& name, const std::string& version) {
    v1::Entry e;
    e.set_seq(++seq);
    v1::PatchStatus* p = e.mutable_action()->mutable_patch_status();
    p->set_cached_image(name);
    p->set_uid("uid-" + name);
    p->set_resource_version(version);
    p->mutable_status()->set_phase("Pulling");
    std::unique_lock lock(mu);
    size_t before = results.size();
    lock.unlock();
    executor->Execute(e);
    lock.lock();
    EXPECT_TRUE(
        cv.wait_for(lock, std::chrono::seconds(10), [&] { return results.size() > before; }))
        << "no result for the status write of " << name;
    return results.size() > before ? results.back() : v1::Entry();
  }

  // The resourceVersion the request `i` was made from.
  std::string VersionSent(size_t i) {
    std::lock_guard lock(mu);  // the results' lock orders the requests before this read
    if (i >= transport->requests.size()) return "(no request " + std::to_string(i) + ")";
    boost::json::object body = boost::json::parse(transport->requests[i].body).as_object();
    return std::string(body["metadata"].as_object()["resourceVersion"].as_string());
  }

  static testing::Scripted Written(const std::string& name, const std::string& version) {
    return Respond(200, R"({"metadata":{"name":")" + name + R"(","uid":"uid-)" + name +
                            R"(","resourceVersion":")" + version + R"("}})");
  }

  IoThread io;
  std::shared_ptr<FakeTransport> transport;
  std::shared_ptr<Client> client;
  std::unique_ptr<ApiExecutor> executor;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<v1::Entry> results;
  uint64_t seq = 0;
};

TEST(ApiExecutor, AWriteFromTheVersionDropLastWroteFromUsesTheVersionItProduced) {
  Fixture f(std::chrono::minutes(2));
  f.transport->script = {Fixture::Written("web", "11"), Fixture::Written("web", "12")};
  EXPECT_TRUE(f.WriteStatus("web", "10").action_result().ok());
  // The watch has not shown drop its write yet: the reconcile still reads version 10.
  EXPECT_TRUE(f.WriteStatus("web", "10").action_result().ok());
  EXPECT_EQ(f.VersionSent(0), "10");
  EXPECT_EQ(f.VersionSent(1), "11");
}

TEST(ApiExecutor, AnIdleLaneIsForgottenInItsTimeSoADeletedCachedImageLeavesNothingBehind) {
  // Forgotten as soon as it is idle: the second write finds no memory of the first, and goes
  // out from the version it was made from (a conflict, if any, is UpdateStatus's to resolve).
  Fixture f(std::chrono::steady_clock::duration::zero());
  f.transport->script = {Fixture::Written("web", "11"), Fixture::Written("web", "12")};
  EXPECT_TRUE(f.WriteStatus("web", "10").action_result().ok());
  EXPECT_TRUE(f.WriteStatus("web", "10").action_result().ok());
  EXPECT_EQ(f.VersionSent(0), "10");
  EXPECT_EQ(f.VersionSent(1), "10");
}

}  // namespace
}  // namespace drop::k8s
