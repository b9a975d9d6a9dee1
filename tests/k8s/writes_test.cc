// Writes against the real API server: a status write that meets a conflict is made again over
// the fresh object (and not over another object of the same name), AlreadyExists on create is
// success when asked for, a delete whose uid precondition no longer holds is refused, and Events
// are counted on repeat.
#include "k8s/writes.h"

#include <gtest/gtest.h>

#include <thread>

#include "k8s/event_recorder.h"
#include "k8s/json_util.h"
#include "tests/k8s/client_helpers.h"
#include "tests/k8s/test_cluster.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;
using testing::JsonObject;
using testing::TestClient;
using testing::TestCluster;

class Writes : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<TestCluster>> c = TestCluster::Start({"--nodes", "1"});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->Namespace("drop-system").ok());
    client_ = std::make_unique<TestClient>(cluster_->AdminConfig());
  }
  void TearDown() override { client_.reset(); }

  std::string KubectlJsonPath(const std::vector<std::string>& args, const std::string& path) {
    std::vector<std::string> argv = args;
    argv.push_back("-o");
    argv.push_back("jsonpath=" + path);
    testing::ProcessResult r = cluster_->Kubectl(argv);
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out;
  }

  std::unique_ptr<TestCluster> cluster_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(Writes, StatusConflictIsRetriedAgainstFreshState) {
  ASSERT_TRUE(cluster_->InstallCrds().ok());
  TestClient& t = *client_;
  ApiResult<Created> made = t.Run(CreateObject(
      *t.client, kCachedImages, "",
      JsonObject(R"({"metadata":{"name":"web"},"spec":{"image":"registry.example.com/app:1"}})"),
      false));
  ASSERT_TRUE(made.ok()) << made.status().message();
  const std::string uid = made->uid, read_version = made->resource_version;
  // Someone else writes in between.
  testing::ProcessResult other =
      cluster_->Kubectl({"patch", "cachedimage", "web", "--subresource=status", "--type=merge",
                         "-p", R"({"status":{"phase":"Pending","nodesTargeted":1}})"});
  ASSERT_EQ(other.exit_code, 0) << other.Describe();

  StatusWrite write;
  write.uid = uid;
  write.resource_version = read_version;
  write.status = json::parse(R"({"phase":"Ready","nodesTargeted":3,"nodesReady":3})");
  uint64_t before = t.client->stats().requests;
  ApiResult<json::object> written = t.Run(UpdateStatus(*t.client, kCachedImages, "", "web", write));
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(t.client->stats().requests - before, 3u);  // PUT (409), GET, PUT
  EXPECT_GT(std::stoull(std::string(ResourceVersionOf(*written))), std::stoull(read_version));
  EXPECT_EQ(KubectlJsonPath({"get", "cachedimage", "web"}, "{.status.phase}/{.status.nodesReady}"),
            "Ready/3");
  EXPECT_EQ(KubectlJsonPath({"get", "cachedimage", "web"}, "{.spec.image}"),
            "registry.example.com/app:1");  // the spec is not touched through /status

  // Without retries, the conflict is the answer.
  write.resource_version = read_version;
  write.max_conflicts = 0;
  ApiResult<json::object> stale = t.Run(UpdateStatus(*t.client, kCachedImages, "", "web", write));
  ASSERT_FALSE(stale.ok());
  EXPECT_TRUE(stale.status().IsConflict());
  EXPECT_EQ(stale.status().http_code(), 409);
  EXPECT_EQ(stale.status().reason(), "Conflict");
  EXPECT_NE(stale.status().message().find("update cachedimages.drop.io/status web: 409 Conflict: "),
            std::string::npos)
      << stale.status().message();

  // Deleted and made again: the status computed for the old object is not written on the new.
  ASSERT_EQ(cluster_->Kubectl({"delete", "cachedimage", "web"}).exit_code, 0);
  ASSERT_TRUE(t.Run(CreateObject(
                        *t.client, kCachedImages, "",
                        JsonObject(R"({"metadata":{"name":"web"},"spec":{"image":"b:2"}})"), false))
                  .ok());
  write.max_conflicts = 5;
  ApiResult<json::object> other_object =
      t.Run(UpdateStatus(*t.client, kCachedImages, "", "web", write));
  ASSERT_FALSE(other_object.ok());
  EXPECT_EQ(other_object.status().http_code(), 409);
  EXPECT_NE(other_object.status().message().find("deleted and made again (uid " + uid),
            std::string::npos)
      << other_object.status().message();
  EXPECT_EQ(KubectlJsonPath({"get", "cachedimage", "web"}, "{.status.phase}"), "");
}

TEST_F(Writes, AlreadyExistsIsSuccessWhenAskedFor) {
  TestClient& t = *client_;
  ApiResult<Created> first = t.Run(CreateObject(
      *t.client, kPods, "drop-system", testing::PodJson("drop-system", "drop-web-1"), true));
  ASSERT_TRUE(first.ok()) << first.status().message();
  EXPECT_FALSE(first->already_existed);
  EXPECT_FALSE(first->uid.empty());

  ApiResult<Created> again = t.Run(CreateObject(
      *t.client, kPods, "drop-system", testing::PodJson("drop-system", "drop-web-1"), true));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->already_existed);
  EXPECT_EQ(again->uid, first->uid);

  ApiResult<Created> strict = t.Run(CreateObject(
      *t.client, kPods, "drop-system", testing::PodJson("drop-system", "drop-web-1"), false));
  ASSERT_FALSE(strict.ok());
  EXPECT_TRUE(strict.status().IsAlreadyExists());
  EXPECT_FALSE(strict.status().IsConflict());
  EXPECT_EQ(strict.status().http_code(), 409);
  EXPECT_EQ(strict.status().reason(), "AlreadyExists");
  EXPECT_EQ(strict.status().message(),
            "create pods drop-web-1 in namespace drop-system: 409 AlreadyExists: pods "
            "\"drop-web-1\" already exists");
  EXPECT_EQ(strict.status().ToStatus().code(), Status::Code::kAlreadyExists);
}

TEST_F(Writes, DeleteWithAStaleUidIsRefused) {
  TestClient& t = *client_;
  ApiResult<Created> old = t.Run(
      CreateObject(*t.client, kPods, "drop-system", testing::PodJson("drop-system", "p"), false));
  ASSERT_TRUE(old.ok()) << old.status().message();
  ApiStatus gone = t.Run(DeletePod(*t.client, "drop-system", "p", old->uid, 0));
  ASSERT_TRUE(gone.ok()) << gone.message();
  // The pod (never scheduled) is gone at once; the same name is made again.
  ApiResult<Created> fresh;
  for (int i = 0; i < 50; ++i) {
    fresh = t.Run(
        CreateObject(*t.client, kPods, "drop-system", testing::PodJson("drop-system", "p"), false));
    if (fresh.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(fresh.ok()) << fresh.status().message();
  ASSERT_NE(fresh->uid, old->uid);

  // Right after a create the API server can answer a delete from a watch cache that has seen the
  // old pod go and not yet the new one come: "not found", which DeletePod takes as deleted (the
  // audit log of one CI run shows it, and the scheduler's write to the new pod refused the same
  // way). The refusal comes once the cache has caught up; the new pod is checked to be there below.
  ApiStatus refused;
  for (int i = 0; i < 50 && refused.ok(); ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    refused = t.Run(DeletePod(*t.client, "drop-system", "p", old->uid));
  }
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(IsPreconditionFailed(refused));
  EXPECT_EQ(refused.http_code(), 409);
  EXPECT_NE(refused.message().find("delete pods p in namespace drop-system: 409 Conflict: "),
            std::string::npos)
      << refused.message();
  EXPECT_NE(refused.message().find("the UID in the precondition (" + old->uid + ")"),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(KubectlJsonPath({"get", "pod", "-n", "drop-system", "p"}, "{.metadata.uid}"),
            fresh->uid);

  EXPECT_TRUE(t.Run(DeletePod(*t.client, "drop-system", "p", fresh->uid, 0)).ok());
  // Already gone: nothing to do, not an error.
  EXPECT_TRUE(t.Run(DeletePod(*t.client, "drop-system", "p", fresh->uid, 0)).ok());
}

TEST_F(Writes, EventsAreCountedOnRepeat) {
  TestClient& t = *client_;
  EventRecorderOptions o;
  o.instance = "replica-1";
  EventRecorder recorder(t.client, o);
  ObjectReference web{"drop.io/v1alpha1", "CachedImage", "web", "", "uid-web"};
  auto record = [&](const std::string& reason, const std::string& message) {
    std::promise<std::pair<EventOutcome, ApiStatus>> done;
    recorder.Record(web, "Warning", reason, message, [&](EventOutcome e, const ApiStatus& s) {
      done.set_value({e, s});
    });
    return done.get_future().get();
  };
  for (int i = 0; i < 3; ++i) {
    auto [outcome, status] = record("PullFailed", "pull of registry.example.com/app:1 failed");
    EXPECT_TRUE(status.ok()) << status.message();
    EXPECT_EQ(outcome, i == 0 ? EventOutcome::kCreated : EventOutcome::kPatched);
  }
  auto [outcome, status] = record("Ready", "all nodes cached");
  EXPECT_EQ(outcome, EventOutcome::kCreated) << status.message();
  testing::ProcessResult r = cluster_->Kubectl(
      {"get", "events", "-n", "default", "--field-selector", "involvedObject.name=web", "-o",
       "jsonpath={range .items[*]}{.reason}={.count}/{.source.component} {end}"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("PullFailed=3/drop-controller-manager"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Ready=1/drop-controller-manager"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace drop::k8s
