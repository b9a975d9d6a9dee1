// Authentication against the real API server of the test cluster: the cluster's CA and a client
// certificate, a wrong CA, a wrong server name, a ServiceAccount token whose RBAC refuses a
// write, an exec plugin refreshed at its expiry, a kubeconfig with several contexts in two
// files, and the in-cluster configuration from prepared files, with a token that rotates.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "k8s/json_util.h"
#include "k8s/resource.h"
#include "tests/k8s/client_helpers.h"
#include "tests/k8s/test_cluster.h"
#include "tests/support/temp_dir.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;
using testing::ProcessResult;
using testing::ReadFile;
using testing::TestClient;
using testing::TestCluster;
using testing::WriteFile;

ClientOptions Options(const std::string& identity, int max_retries = 10) {
  ClientOptions o;
  o.identity = identity;
  o.max_retries = max_retries;
  return o;
}

class Auth : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<TestCluster>> c = TestCluster::Start({"--nodes", "1"});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    cluster_ = std::move(*c);
  }

  // Who the API server takes the client for (a SelfSubjectReview).
  static ApiResult<std::string> WhoAmI(TestClient& t) {
    RequestSpec spec;
    spec.info.verb = "create";
    spec.info.group = "authentication.k8s.io";
    spec.info.resource = "selfsubjectreviews";
    spec.method = "POST";
    spec.target = "/apis/authentication.k8s.io/v1/selfsubjectreviews";
    spec.body = R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})";
    spec.content_type = "application/json";
    ApiResult<std::string> body = t.Run(t.client->Call(spec));
    if (!body.ok()) return body.status();
    json::value v = json::parse(*body);
    return std::string(
        GetString(GetObject(GetObject(v.as_object(), "status"), "userInfo"), "username"));
  }

  std::unique_ptr<TestCluster> cluster_;
  drop::testing::TempDir tmp_;
};

TEST_F(Auth, ClusterCaAndClientCertificateConnect) {
  TestClient t(cluster_->AdminConfig(), Options("auth-test"));
  ApiResult<ListPage> nodes = t.Run(t.client->List(kNodes, "", {}));
  ASSERT_TRUE(nodes.ok()) << nodes.status().message();
  EXPECT_EQ(nodes->items.size(), 1u);
  ApiResult<std::string> who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "kubernetes-admin");
  // The API server saw drop's User-Agent.
  EXPECT_NE(ReadFile(cluster_->audit_log())
                .find("\"userAgent\":\"drop/" + std::string(kDropVersion) + " (auth-test)\""),
            std::string::npos);
}

TEST_F(Auth, WrongCaFailsWithAClearError) {
  ProcessResult r = testing::Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                  "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                                  "/CN=some-other-ca", "-keyout", tmp_ / "other.key", "-out",
                                  tmp_ / "other.crt"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Config config = cluster_->AdminConfig();
  config.ca_pem = ReadFile(tmp_ / "other.crt");
  config.ca_source = tmp_ / "other.crt";
  TestClient t(config, Options("", 1));
  ApiResult<ListPage> nodes = t.Run(t.client->List(kNodes, "", {}));
  ASSERT_FALSE(nodes.ok());
  EXPECT_EQ(nodes.status().http_code(), 0);
  const std::string& m = nodes.status().message();
  EXPECT_NE(m.find("list nodes: TLS handshake with 127.0.0.1:"), std::string::npos) << m;
  EXPECT_NE(m.find("certificate verify failed"), std::string::npos) << m;
  EXPECT_EQ(nodes.status().reason(), kReasonTlsError);
  EXPECT_EQ(t.client->stats().requests, 1u);  // a certificate that does not verify is not retried
  EXPECT_NE(m.find("signed by the CA from " + tmp_ / "other.crt"), std::string::npos) << m;
}

TEST_F(Auth, ServerNameIsVerified) {
  Config config = cluster_->AdminConfig();
  config.tls_server_name = "not-the-apiserver.example";
  TestClient wrong(config, Options("", 0));
  ApiResult<ListPage> refused = wrong.Run(wrong.client->List(kNodes, "", {}));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("hostname mismatch"), std::string::npos)
      << refused.status().message();

  config.tls_server_name = "kubernetes.default.svc";  // a name the serving certificate has
  TestClient right(config);
  ApiResult<ListPage> nodes = right.Run(right.client->List(kNodes, "", {}));
  EXPECT_TRUE(nodes.ok()) << nodes.status().message();
}

TEST_F(Auth, ServiceAccountTokenForbiddenNamesVerbResourceAndNamespace) {
  ASSERT_TRUE(cluster_->Namespace("drop-system").ok());
  Result<std::string> token = cluster_->ServiceAccountToken("drop-system", "reader", "view");
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  TestClient t(cluster_->TokenConfig(*token));
  ApiResult<std::string> who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:drop-system:reader");

  ApiResult<ListPage> pods = t.Run(t.client->List(kPods, "drop-system", {}));
  EXPECT_TRUE(pods.ok()) << pods.status().message();  // view allows reading

  ApiResult<json::object> created =
      t.Run(t.client->Create(kPods, "drop-system", testing::PodJson("drop-system", "p")));
  ASSERT_FALSE(created.ok());
  const ApiStatus& s = created.status();
  EXPECT_EQ(s.http_code(), 403);
  EXPECT_EQ(s.reason(), kReasonForbidden);
  EXPECT_TRUE(s.IsForbidden());
  EXPECT_NE(s.message().find("create pods p in namespace drop-system: 403 Forbidden: "),
            std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("RBAC refused verb \"create\" on resource \"pods\" in namespace "
                             "\"drop-system\""),
            std::string::npos)
      << s.message();
  EXPECT_EQ(s.ToStatus().code(), Status::Code::kFailedPrecondition);
  // The server's own words are there too.
  EXPECT_NE(s.message().find("system:serviceaccount:drop-system:reader"), std::string::npos)
      << s.message();
}

TEST_F(Auth, ExecPluginTokenIsRefreshedAtExpiry) {
  Result<std::string> a = cluster_->ServiceAccountToken("default", "exec-a", "");
  Result<std::string> b = cluster_->ServiceAccountToken("default", "exec-b", "");
  ASSERT_TRUE(a.ok() && b.ok());
  WriteFile(tmp_ / "token", *a);
  const std::string count = tmp_ / "runs";
  Config admin = cluster_->AdminConfig();
  std::string kubeconfig = R"(apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: )" + cluster_->server() +
                           R"(
    certificate-authority: )" +
                           cluster_->dir() + R"(/pki/ca.crt
users:
- name: plugin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: )" + testing::TestDataDir() +
                           R"(/exec_credential.sh
      provideClusterInfo: true
      interactiveMode: Never
      env:
      - {name: DROP_TEST_TOKEN_FILE, value: )" +
                           tmp_ / "token" + R"(}
      - {name: DROP_TEST_COUNT_FILE, value: )" +
                           count + R"(}
      - {name: DROP_TEST_EXPIRY_SECONDS, value: "3"}
contexts:
- name: plugin
  context: {cluster: c, user: plugin}
current-context: plugin
)";
  WriteFile(tmp_ / "kubeconfig", kubeconfig);
  Result<Config> config = LoadKubeconfig({tmp_ / "kubeconfig"}, "");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->exec.has_value());
  TestClient t(*config);

  auto t0 = std::chrono::steady_clock::now();
  ApiResult<std::string> who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:default:exec-a");
  who = WhoAmI(t);  // within the expiry: the cached token
  ASSERT_TRUE(who.ok()) << who.status().message();
  if (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
    EXPECT_EQ(ReadFile(count), "1\n");
  }
  // The plugin was told about the cluster (provideClusterInfo).
  std::string info = ReadFile(count + ".info");
  EXPECT_NE(info.find("\"apiVersion\":\"client.authentication.k8s.io/v1\""), std::string::npos)
      << info;
  EXPECT_NE(info.find("\"server\":\"" + cluster_->server() + "\""), std::string::npos) << info;

  // The plugin hands out another token from now on; after the expiry the client asks again.
  WriteFile(tmp_ / "token", *b);
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));
  who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:default:exec-b");
  EXPECT_GE(t.client->credentials().exec_runs(), 2);
}

TEST_F(Auth, KubeconfigWithSeveralContextsInTwoFiles) {
  ASSERT_TRUE(cluster_->Namespace("drop-system").ok());
  Result<std::string> token = cluster_->ServiceAccountToken("drop-system", "reader", "view");
  ASSERT_TRUE(token.ok());
  // Clusters and users in one file, contexts in another, as $KUBECONFIG merges them.
  WriteFile(tmp_ / "pki.crt", cluster_->ca_pem());
  WriteFile(tmp_ / "one", R"(apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: )" + cluster_->server() +
                              R"(, certificate-authority: pki.crt}
- name: nowhere
  cluster: {server: "https://127.0.0.1:1", certificate-authority: pki.crt}
users:
- name: admin
  user: {client-certificate: )" +
                              cluster_->dir() + R"(/pki/admin.crt, client-key: )" +
                              cluster_->dir() + R"(/pki/admin.key}
- name: reader
  user: {token: )" + *token + R"(}
contexts:
- name: reader
  context: {cluster: nowhere, user: reader}
)");
  WriteFile(tmp_ / "two", R"(apiVersion: v1
kind: Config
contexts:
- name: reader
  context: {cluster: test, user: reader, namespace: drop-system}
- name: admin
  context: {cluster: test, user: admin}
current-context: reader
)");
  LoadOptions options;
  options.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBECONFIG") return tmp_ / "missing" + ":" + tmp_ / "two" + ":" + tmp_ / "one";
    return std::nullopt;
  };
  Result<Config> reader = LoadConfig(options);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ(reader->namespace_, "drop-system");  // "two" defines context reader first
  EXPECT_EQ(reader->server, cluster_->server());
  TestClient r(*reader);
  ApiResult<std::string> who = WhoAmI(r);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:drop-system:reader");

  options.context = "admin";
  Result<Config> admin = LoadConfig(options);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  EXPECT_EQ(admin->namespace_, "default");
  TestClient a(*admin);
  who = WhoAmI(a);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "kubernetes-admin");

  options.context = "nosuch";
  Result<Config> missing = LoadConfig(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(
      missing.status().message().find("context \"nosuch\" not found; contexts: admin, reader"),
      std::string::npos)
      << missing.status().message();
}

TEST_F(Auth, InClusterConfigFollowsARotatedToken) {
  ASSERT_TRUE(cluster_->Namespace("drop-system").ok());
  Result<std::string> first = cluster_->ServiceAccountToken("drop-system", "first", "view");
  Result<std::string> second = cluster_->ServiceAccountToken("drop-system", "second", "view");
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string sa = tmp_ / "serviceaccount";
  std::filesystem::create_directories(sa);
  WriteFile(sa + "/token", *first);
  WriteFile(sa + "/ca.crt", cluster_->ca_pem());
  WriteFile(sa + "/namespace", "drop-system\n");
  const std::string port = cluster_->server().substr(cluster_->server().rfind(':') + 1);
  LoadOptions options;
  options.service_account_dir = sa;
  options.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "127.0.0.1";
    if (name == "KUBERNETES_SERVICE_PORT") return port;
    if (name == "KUBECONFIG") return cluster_->kubeconfig();  // in-cluster wins over it
    return std::nullopt;
  };
  Result<Config> config = LoadConfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://127.0.0.1:" + port);
  EXPECT_EQ(config->namespace_, "drop-system");
  EXPECT_EQ(config->token_file, sa + "/token");
  TestClient t(*config);
  ApiResult<std::string> who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:drop-system:first");

  // The kubelet rotates the token; the old one stops working (its ServiceAccount is gone). The
  // client's next request gets 401, reads the file again and goes on with the new token.
  WriteFile(sa + "/token", *second);
  ASSERT_EQ(cluster_->Kubectl({"delete", "serviceaccount", "-n", "drop-system", "first"}).exit_code,
            0);
  ApiResult<ListPage> pods;
  for (int i = 0; i < 150; ++i) {  // the API server caches a token's review for 10 s
    pods = t.Run(t.client->List(kPods, "drop-system", {}));
    ApiResult<std::string> now = WhoAmI(t);
    if (pods.ok() && now.ok() && *now == "system:serviceaccount:drop-system:second") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(pods.ok()) << pods.status().message();
  who = WhoAmI(t);
  ASSERT_TRUE(who.ok()) << who.status().message();
  EXPECT_EQ(*who, "system:serviceaccount:drop-system:second");
  EXPECT_GE(t.client->stats().unauthorized, 1u);
}

}  // namespace
}  // namespace drop::k8s
