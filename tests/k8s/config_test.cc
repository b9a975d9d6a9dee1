// Reading kubeconfig files and the in-cluster service account without a cluster: merging,
// contexts, data versus files, relative paths, exec plugins, and errors that name the file and
// the field.
#include "k8s/config.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "k8s/base64.h"
#include "k8s/http_transport.h"
#include "tests/k8s/process.h"
#include "tests/support/temp_dir.h"

namespace drop::k8s {
namespace {

using testing::WriteFile;

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = tmp_ / name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    WriteFile(path, text);
    return path;
  }
  Status Error(const std::string& text, const std::string& context = "") {
    Result<Config> c = LoadKubeconfig({Write("config", text)}, context);
    EXPECT_FALSE(c.ok());
    return c.ok() ? Status::Ok() : c.status();
  }
  drop::testing::TempDir tmp_;
};

constexpr const char* kBase = R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example.com:6443
    certificate-authority-data: )";

TEST_F(ConfigTest, CurrentContextWithDataFields) {
  std::string text = std::string(kBase) + Base64Encode("CA PEM") + R"(
users:
- name: admin
  user:
    client-certificate-data: )" +
                     Base64Encode("CERT") + R"(
    client-key-data: )" +
                     Base64Encode("KEY") + R"(
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin, namespace: drop-system}
current-context: prod-admin
)";
  std::string path = Write("config", text);
  Result<Config> c = LoadKubeconfig({path}, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://prod.example.com:6443");
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->ca_source,
            "kubeconfig " + path + ": clusters[\"prod\"].cluster.certificate-authority-data");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_EQ(c->namespace_, "drop-system");
  EXPECT_FALSE(c->insecure_skip_tls_verify);
  EXPECT_EQ(c->source, "kubeconfig " + path + " (context prod-admin)");
}

TEST_F(ConfigTest, RelativePathsAreRelativeToTheirFile) {
  Write("sub/ca.crt", "CA FROM FILE");
  Write("sub/token", "tok");
  std::string path = Write("sub/config", R"(clusters:
- name: c
  cluster: {server: "https://10.0.0.1", certificate-authority: ca.crt, insecure-skip-tls-verify: false}
users:
- name: u
  user: {tokenFile: token}
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
)");
  Result<Config> c = LoadKubeconfig({path}, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ca_pem, "CA FROM FILE");
  EXPECT_EQ(c->token_file, tmp_ / "sub/token");
  EXPECT_EQ(c->namespace_, "default");
}

TEST_F(ConfigTest, MergedFilesFirstDefinitionWins) {
  std::string a = Write("a", R"(clusters:
- name: c
  cluster: {server: "https://first:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: first}
contexts:
- name: x
  context: {cluster: c, user: u, namespace: a}
current-context: x
)");
  std::string b = Write("b", R"(clusters:
- name: c
  cluster: {server: "https://second:2"}
- name: d
  cluster: {server: "https://d:3"}
users:
- name: u
  user: {token: second}
contexts:
- name: y
  context: {cluster: d, user: u}
current-context: y
)");
  Result<Config> c = LoadKubeconfig({a, tmp_ / "not-there", b}, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://first:1");
  EXPECT_EQ(c->token, "first");
  EXPECT_TRUE(c->insecure_skip_tls_verify);
  Result<Config> y = LoadKubeconfig({a, b}, "y");
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ(y->server, "https://d:3");
  EXPECT_EQ(y->token, "first");  // user u from a
  EXPECT_FALSE(y->insecure_skip_tls_verify);
}

TEST_F(ConfigTest, ExecPlugin) {
  std::string path = Write("config", R"(clusters:
- name: c
  cluster: {server: "https://eks:443"}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./bin/get-token
      args: [--cluster, prod]
      env: [{name: AWS_PROFILE, value: ops}]
      provideClusterInfo: true
      installHint: install get-token
contexts:
- name: x
  context: {cluster: c, user: u}
current-context: x
)");
  Result<Config> c = LoadKubeconfig({path}, "");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_TRUE(c->exec.has_value());
  EXPECT_EQ(c->exec->command, tmp_ / "bin/get-token");
  EXPECT_EQ(c->exec->args, (std::vector<std::string>{"--cluster", "prod"}));
  ASSERT_EQ(c->exec->env.size(), 1u);
  EXPECT_EQ(c->exec->env[0].second, "ops");
  EXPECT_TRUE(c->exec->provide_cluster_info);
  EXPECT_EQ(c->exec->install_hint, "install get-token");
}

TEST_F(ConfigTest, ErrorsNameTheFileAndTheField) {
  std::string file = tmp_ / "config";
  EXPECT_EQ(
      Error(std::string(kBase) + "not*base64\ncontexts: [{name: x, context: {cluster: prod}}]\n"
                                 "current-context: x\n")
          .message(),
      "kubeconfig " + file +
          ": clusters[\"prod\"].cluster.certificate-authority-data: not valid base64");
  EXPECT_EQ(Error("clusters: {a: b}\n").message(),
            "kubeconfig " + file + ": clusters: expected a list");
  EXPECT_EQ(Error("clusters:\n- cluster: {server: https://x}\n").message(),
            "kubeconfig " + file + ": clusters[0].name: missing");
  EXPECT_EQ(
      Error("contexts: [{name: x, context: {cluster: nope}}]\ncurrent-context: x\n").message(),
      "kubeconfig " + file + ": contexts[\"x\"].context.cluster: no cluster named \"nope\"");
  EXPECT_EQ(Error("clusters: [{name: c, cluster: {server: \"http://plain:8080\"}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n")
                .message(),
            "kubeconfig " + file +
                ": clusters[\"c\"].cluster.server: \"http://plain:8080\" is not an "
                "https:// URL; drop talks TLS only");
  EXPECT_EQ(
      Error("clusters: [{name: c, cluster: {server: \"https://a\"}}]\n"
            "users: [{name: u, user: {client-certificate: /nonexistent/cert, client-key: k}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
          .message(),
      "kubeconfig " + file +
          ": users[\"u\"].user.client-certificate: cannot read /nonexistent/cert: "
          "No such file or directory");
  EXPECT_EQ(Error("clusters: [{name: c, cluster: {server: \"https://a\", insecure-skip-tls-verify: "
                  "yes please}}]\n"
                  "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n")
                .message(),
            "kubeconfig " + file +
                ": clusters[\"c\"].cluster.insecure-skip-tls-verify: expected true or "
                "false, not \"yes please\"");
  EXPECT_EQ(Error("clusters: [{name: c, cluster: {server: \"https://a\"}}]\n"
                  "users: [{name: u, user: {exec: {command: x}}}]\n"
                  "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
                .message(),
            "kubeconfig " + file +
                ": users[\"u\"].user.exec.apiVersion: missing; use "
                "client.authentication.k8s.io/v1");
  EXPECT_EQ(Error("contexts: [{name: x, context: {cluster: c}}]\n").message(),
            "kubeconfig " + file +
                ": no current-context is set and no context was named; set one with "
                "`kubectl config use-context NAME`");
  Result<Config> dir = LoadKubeconfig({tmp_.path()}, "");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "kubeconfig " + tmp_.path() + ": cannot read " + tmp_.path() +
                                        ": a directory, not a file");
  Status bad_yaml = Error("clusters: [\n");
  EXPECT_EQ(bad_yaml.message().rfind("kubeconfig " + file + ": line 2, column 1: ", 0), 0u)
      << bad_yaml.message();
}

TEST_F(ConfigTest, InClusterFromTheServiceAccountDirectory) {
  Write("sa/token", "tok\n");
  Write("sa/ca.crt", "CA");
  Write("sa/namespace", "drop-system");
  LoadOptions o;
  o.service_account_dir = tmp_ / "sa";
  o.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBERNETES_SERVICE_HOST") return "fd00::1";
    if (name == "KUBERNETES_SERVICE_PORT") return "443";
    return std::nullopt;
  };
  Result<Config> c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://[fd00::1]:443");
  EXPECT_EQ(c->token_file, tmp_ / "sa/token");
  EXPECT_EQ(c->ca_pem, "CA");
  EXPECT_EQ(c->namespace_, "drop-system");
  Result<ServerAddress> a = ParseServerUrl(c->server);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "fd00::1");
  EXPECT_EQ(a->port, "443");

  std::filesystem::remove(tmp_ / "sa/token");
  Result<Config> missing = LoadConfig(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot read " + tmp_ / "sa/token"), std::string::npos);
}

// No flag named it: the error says the file came from $KUBECONFIG, and how to choose another.
TEST_F(ConfigTest, AKubeconfigFromTheEnvironmentThatFailsIsNamedAsSuch) {
  LoadOptions o;
  const std::string missing = tmp_ / "nowhere";
  o.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBECONFIG") return missing;
    if (name == "HOME") return tmp_.path();
    return std::nullopt;
  };
  Result<Config> c = LoadConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(c.status().message().starts_with("$KUBECONFIG is " + missing + ": kubeconfig " +
                                               missing + ": cannot read"))
      << c.status().message();
  EXPECT_TRUE(c.status().message().ends_with("; fix or unset $KUBECONFIG, or pass --kubeconfig"))
      << c.status().message();
  // A --context the file lacks is the flag's fault, not the environment's.
  const std::string kc = Write("kc",
                               "clusters: [{name: c, cluster: {server: \"https://k\"}}]\n"
                               "contexts: [{name: x, context: {cluster: c}}]\n"
                               "current-context: x\n");
  o.getenv = [&](const std::string& name) -> std::optional<std::string> {
    if (name == "KUBECONFIG") return kc;
    return std::nullopt;
  };
  o.context = "nope";
  c = LoadConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("context \"nope\" not found; contexts: x"), std::string::npos)
      << c.status().message();
  EXPECT_EQ(c.status().message().find("$KUBECONFIG"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, WithoutAnythingTheErrorSaysWhatWasTried) {
  LoadOptions o;
  o.getenv = [this](const std::string& name) -> std::optional<std::string> {
    if (name == "HOME") return tmp_.path();
    return std::nullopt;
  };
  Result<Config> c = LoadConfig(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "no Kubernetes configuration: not in a pod, $KUBECONFIG is not set and " + tmp_.path() +
                "/.kube/config does not exist; pass --kubeconfig");
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument) << "the operator exits 2";
  Write(".kube/config",
        "clusters: [{name: c, cluster: {server: \"https://home\"}}]\n"
        "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n");
  c = LoadConfig(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->server, "https://home");
}

TEST(ServerUrl, Parts) {
  Result<ServerAddress> a = ParseServerUrl("https://rancher.example.com/k8s/clusters/c-1/");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "rancher.example.com");
  EXPECT_EQ(a->port, "443");
  EXPECT_EQ(a->path_prefix, "/k8s/clusters/c-1");
  EXPECT_FALSE(ParseServerUrl("http://x").ok());
  for (const char* port : {"99999", "0", "-1", "6443x", ""}) {
    Result<ServerAddress> bad = ParseServerUrl("https://127.0.0.1:" + std::string(port));
    if (std::string_view(port).empty()) {
      EXPECT_TRUE(bad.ok()) << "https://127.0.0.1: means the default port";
      continue;
    }
    ASSERT_FALSE(bad.ok()) << port;
    EXPECT_NE(bad.status().message().find("is not a port (1 to 65535)"), std::string::npos)
        << bad.status().message();
  }
  Result<ServerAddress> userinfo = ParseServerUrl("https://admin:hunter2@127.0.0.1:6443");
  ASSERT_FALSE(userinfo.ok());
  EXPECT_EQ(userinfo.status().message().find("hunter2"), std::string::npos);
  EXPECT_NE(userinfo.status().message().find("carries user information"), std::string::npos);
}

TEST(Base64, RoundTrip) {
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\x00\x10 binary"}) {
    std::optional<std::string> back = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(*Base64Decode("YWJj\nZA=="), "abcd");
  EXPECT_FALSE(Base64Decode("a$b").has_value());
}

}  // namespace
}  // namespace drop::k8s
