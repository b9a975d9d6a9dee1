#include "k8s/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace drop::k8s {
namespace {

std::optional<std::string> Getenv(const LoadOptions& options, const std::string& name) {
  if (options.getenv) return options.getenv(name);
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<std::string> ReadServiceAccountFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::NotFound("in-cluster config: cannot read " + path + ": " + std::strerror(errno) +
                            " (is the ServiceAccount token mounted? automountServiceAccountToken "
                            "must not be false for the operator's pod)");
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

}  // namespace

Result<Config> InClusterConfig(const LoadOptions& options) {
  std::optional<std::string> host = Getenv(options, "KUBERNETES_SERVICE_HOST");
  std::optional<std::string> port = Getenv(options, "KUBERNETES_SERVICE_PORT");
  if (!host || !port || host->empty() || port->empty()) {
    return Status::NotFound(
        "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not "
        "running in a pod?)");
  }
  const std::string& dir = options.service_account_dir;
  Config config;
  config.source = "in-cluster service account (" + dir + ")";
  // An IPv6 address needs brackets in a URL.
  bool v6 = host->find(':') != std::string::npos;
  config.server = "https://" + (v6 ? "[" + *host + "]" : *host) + ":" + *port;
  config.token_file = dir + "/token";
  Result<std::string> token = ReadServiceAccountFile(config.token_file);
  if (!token.ok()) return token.status();
  Result<std::string> ca = ReadServiceAccountFile(dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  config.ca_pem = *ca;
  config.ca_source = dir + "/ca.crt";
  Result<std::string> ns = ReadServiceAccountFile(dir + "/namespace");
  config.namespace_ = ns.ok() ? Trim(*ns) : "default";
  return config;
}

std::string RedactUrl(std::string_view url) {
  size_t start = url.find("://");
  start = start == std::string_view::npos ? 0 : start + 3;
  size_t end = url.find_first_of("/?#", start);
  size_t at = url.substr(0, end).rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  return std::string(url.substr(0, start)) + "...@" + std::string(url.substr(at + 1));
}

Result<Config> LoadConfig(const LoadOptions& options) {
  if (!options.kubeconfig.empty()) return LoadKubeconfig({options.kubeconfig}, options.context);
  std::optional<std::string> host = Getenv(options, "KUBERNETES_SERVICE_HOST");
  if (host && !host->empty() && options.context.empty()) return InClusterConfig(options);
  std::optional<std::string> env = Getenv(options, "KUBECONFIG");
  if (env && !env->empty()) {
    std::vector<std::string> paths;
    std::stringstream s(*env);
    for (std::string p; std::getline(s, p, ':');) {
      if (!p.empty()) paths.push_back(p);
    }
    if (!paths.empty()) {
      Result<Config> config = LoadKubeconfig(paths, options.context);
      // Named by no flag, the files are the environment's choice: say so, and how to change it;
      // but a --context they lack is the flag's fault.
      const bool flag_context = !options.context.empty() &&
                                config.status().message().find("context \"" + options.context +
                                                               "\"") != std::string::npos;
      if (config.ok() || flag_context) return config;
      return Status::InvalidArgument("$KUBECONFIG is " + *env + ": " + config.status().message() +
                                     "; fix or unset $KUBECONFIG, or pass --kubeconfig");
    }
  }
  std::optional<std::string> home = Getenv(options, "HOME");
  if (!home || home->empty()) {
    return Status::InvalidArgument(
        "no Kubernetes configuration: not in a pod, $KUBECONFIG is not set and $HOME is unknown; "
        "pass --kubeconfig");
  }
  std::string path = *home + "/.kube/config";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::InvalidArgument(
        "no Kubernetes configuration: not in a pod, $KUBECONFIG is not set and " + path +
        " does not exist; pass --kubeconfig");
  }
  return LoadKubeconfig({path}, options.context);
}

}  // namespace drop::k8s
