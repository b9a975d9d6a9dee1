// Where the API server is and how drop proves who it is: read from the pod's service account
// (in-cluster) or from kubeconfig files merged as kubectl merges them. A broken file gives an error
// that names the file and the field.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace drop::k8s {

// A client.authentication.k8s.io exec credential plugin (kubeconfig users[].user.exec).
struct ExecConfig {
  std::string command;  // resolved against the kubeconfig's directory when relative with a '/'
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string api_version;  // client.authentication.k8s.io/v1 or v1beta1
  std::string install_hint;
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never | IfAvailable | Always; drop never has a terminal
  std::string source;            // "kubeconfig /root/.kube/config: users["eks"].user.exec"
};

struct Config {
  std::string server;           // "https://10.96.0.1:443", optionally with a path prefix
  std::string tls_server_name;  // the name verified in the server's certificate, if not the host
  std::string ca_pem;           // empty: the system's trust store
  std::string ca_source;        // where ca_pem came from, for TLS errors
  bool insecure_skip_tls_verify = false;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string token;       // a bearer token
  std::string token_file;  // a bearer token read from this file, re-read as it rotates
  std::string username;    // HTTP basic authentication
  std::string password;
  std::optional<ExecConfig> exec;
  std::string namespace_;  // the context's namespace, or the pod's own
  std::string source;      // "kubeconfig /a/b (context c)" or "in-cluster service account"
};

struct LoadOptions {
  std::string kubeconfig;  // an explicit file (--kubeconfig): wins over everything else
  std::string context;     // a context other than current-context
  // The environment: KUBERNETES_SERVICE_HOST/PORT, KUBECONFIG and HOME. Default: the process's.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
};

// The explicit kubeconfig if given; else the in-cluster service account when
// KUBERNETES_SERVICE_HOST and _PORT are set; else the files in $KUBECONFIG, merged; else
// ~/.kube/config.
Result<Config> LoadConfig(const LoadOptions& options);

// `url` with its user information (the "user:password@" before the host) shown as "...@": what
// a message or a log may say of a server URL.
std::string RedactUrl(std::string_view url);

// The pod's service account: token (a file, re-read as the kubelet rotates it), CA and namespace
// from `service_account_dir`, the server from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT.
Result<Config> InClusterConfig(const LoadOptions& options);

// Kubeconfig files merged as kubectl merges $KUBECONFIG: for each cluster, user and context name
// the first file that defines it wins, and so does the first current-context. Missing files are
// skipped unless every one is missing. Relative paths in a file are relative to its directory.
Result<Config> LoadKubeconfig(const std::vector<std::string>& paths, const std::string& context);

}  // namespace drop::k8s
