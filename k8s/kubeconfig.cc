// Kubeconfig files, merged the way kubectl merges $KUBECONFIG (k8s.io/client-go/tools/clientcmd
// loader.go): the first file to define a cluster, user or context name wins, and so does the
// first current-context. Errors name the file and the field, as the user would find it.
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "k8s/base64.h"
#include "k8s/config.h"

namespace drop::k8s {
namespace {

// An entry of one of a kubeconfig's lists, remembered with where it came from.
struct Entry {
  YAML::Node body;    // the cluster / user / context mapping
  std::string file;   // the file that defined it
  std::string field;  // "users[\"admin\"].user"
};

struct Merged {
  std::map<std::string, Entry> clusters, users, contexts;
  std::string current_context;
};

Result<std::string> ReadWholeFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidArgument("cannot read " + path + ": a directory, not a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Quote(const std::string& s) {
  return "\"" + s + "\"";
}

Status FieldError(const std::string& file, const std::string& field, const std::string& what) {
  return Status::InvalidArgument("kubeconfig " + file + ": " + field + ": " + what);
}

// A string field: "" when absent or null, an error when it is a list or a map.
Result<std::string> Scalar(const YAML::Node& parent, const char* key, const std::string& file,
                           const std::string& field) {
  YAML::Node n = parent[key];
  if (!n.IsDefined() || n.IsNull()) return std::string();
  if (!n.IsScalar()) return FieldError(file, field + "." + key, "expected a string");
  return n.Scalar();
}

Result<bool> Bool(const YAML::Node& parent, const char* key, const std::string& file,
                  const std::string& field) {
  Result<std::string> s = Scalar(parent, key, file, field);
  if (!s.ok()) return s.status();
  if (s->empty() || *s == "false") return false;
  if (*s == "true") return true;
  return FieldError(file, field + "." + key, "expected true or false, not " + Quote(*s));
}

Status MergeFile(const std::string& path, Merged* merged) {
  Result<std::string> text = ReadWholeFile(path);
  if (!text.ok())
    return Status::InvalidArgument("kubeconfig " + path + ": " + text.status().message());
  YAML::Node root;
  try {
    root = YAML::Load(*text);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("kubeconfig " + path + ": line " +
                                   std::to_string(e.mark.line + 1) + ", column " +
                                   std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (!root.IsDefined() || root.IsNull()) return Status::Ok();  // an empty file merges nothing
  if (!root.IsMap()) {
    return Status::InvalidArgument(
        "kubeconfig " + path +
        ": not a kubeconfig (expected a mapping with clusters, users and "
        "contexts)");
  }
  struct List {
    const char* name;
    const char* inner;
    std::map<std::string, Entry>* into;
  };
  for (const List& list :
       {List{"clusters", "cluster", &merged->clusters}, List{"users", "user", &merged->users},
        List{"contexts", "context", &merged->contexts}}) {
    YAML::Node items = root[list.name];
    if (!items.IsDefined() || items.IsNull()) continue;
    if (!items.IsSequence()) return FieldError(path, list.name, "expected a list");
    for (size_t i = 0; i < items.size(); ++i) {
      std::string at = std::string(list.name) + "[" + std::to_string(i) + "]";
      YAML::Node item = items[i];
      if (!item.IsMap())
        return FieldError(path, at, "expected a mapping with name and " + std::string(list.inner));
      Result<std::string> name = Scalar(item, "name", path, at);
      if (!name.ok()) return name.status();
      if (name->empty()) return FieldError(path, at + ".name", "missing");
      std::string field = std::string(list.name) + "[" + Quote(*name) + "]." + list.inner;
      YAML::Node body = item[list.inner];
      if (body.IsDefined() && !body.IsNull() && !body.IsMap()) {
        return FieldError(path, field, "expected a mapping");
      }
      if (!body.IsDefined() || body.IsNull()) body = YAML::Node(YAML::NodeType::Map);
      list.into->emplace(*name, Entry{body, path, field});  // the first definition wins
    }
  }
  Result<std::string> current = Scalar(root, "current-context", path, "");
  if (!current.ok()) return FieldError(path, "current-context", "expected a string");
  if (merged->current_context.empty()) merged->current_context = *current;
  return Status::Ok();
}

// A path written in `file`, relative to that file's directory.
std::string Resolve(const std::string& file, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(file).parent_path() / path).lexically_normal().string();
}

// `key`-data (base64) or `key` (a file): the data wins, as in client-go.
Result<std::string> DataOrFile(const Entry& e, const std::string& key, std::string* source) {
  Result<std::string> data = Scalar(e.body, (key + "-data").c_str(), e.file, e.field);
  if (!data.ok()) return data.status();
  if (!data->empty()) {
    std::optional<std::string> decoded = Base64Decode(*data);
    if (!decoded) return FieldError(e.file, e.field + "." + key + "-data", "not valid base64");
    if (source != nullptr) *source = "kubeconfig " + e.file + ": " + e.field + "." + key + "-data";
    return *decoded;
  }
  Result<std::string> file = Scalar(e.body, key.c_str(), e.file, e.field);
  if (!file.ok()) return file.status();
  if (file->empty()) return std::string();
  std::string path = Resolve(e.file, *file);
  Result<std::string> content = ReadWholeFile(path);
  if (!content.ok()) return FieldError(e.file, e.field + "." + key, content.status().message());
  if (source != nullptr)
    *source = path + " (kubeconfig " + e.file + ": " + e.field + "." + key + ")";
  return *content;
}

Status ReadCluster(const Entry& e, Config* config) {
  Result<std::string> server = Scalar(e.body, "server", e.file, e.field);
  if (!server.ok()) return server.status();
  if (server->empty()) return FieldError(e.file, e.field + ".server", "missing");
  if (server->rfind("https://", 0) != 0) {
    return FieldError(e.file, e.field + ".server",
                      Quote(RedactUrl(*server)) + " is not an https:// URL; drop talks TLS only");
  }
  config->server = *server;
  Result<bool> insecure = Bool(e.body, "insecure-skip-tls-verify", e.file, e.field);
  if (!insecure.ok()) return insecure.status();
  config->insecure_skip_tls_verify = *insecure;
  Result<std::string> ca = DataOrFile(e, "certificate-authority", &config->ca_source);
  if (!ca.ok()) return ca.status();
  config->ca_pem = *ca;
  Result<std::string> sni = Scalar(e.body, "tls-server-name", e.file, e.field);
  if (!sni.ok()) return sni.status();
  config->tls_server_name = *sni;
  Result<std::string> proxy = Scalar(e.body, "proxy-url", e.file, e.field);
  if (!proxy.ok()) return proxy.status();
  if (!proxy->empty()) {
    return FieldError(e.file, e.field + ".proxy-url",
                      "proxies are not supported; reach the API server directly");
  }
  return Status::Ok();
}

Status ReadExec(const Entry& e, const YAML::Node& exec, Config* config) {
  const std::string field = e.field + ".exec";
  if (!exec.IsMap()) return FieldError(e.file, field, "expected a mapping");
  ExecConfig x;
  x.source = "kubeconfig " + e.file + ": " + field;
  Result<std::string> command = Scalar(exec, "command", e.file, field);
  if (!command.ok()) return command.status();
  if (command->empty()) return FieldError(e.file, field + ".command", "missing");
  // As clientcmd: a relative command with a directory part is relative to the kubeconfig.
  x.command = command->find('/') != std::string::npos ? Resolve(e.file, *command) : *command;
  Result<std::string> api = Scalar(exec, "apiVersion", e.file, field);
  if (!api.ok()) return api.status();
  if (*api != "client.authentication.k8s.io/v1" && *api != "client.authentication.k8s.io/v1beta1") {
    return FieldError(e.file, field + ".apiVersion",
                      (api->empty() ? std::string("missing") : Quote(*api) + " is not supported") +
                          "; use client.authentication.k8s.io/v1");
  }
  x.api_version = *api;
  YAML::Node args = exec["args"];
  if (args.IsDefined() && !args.IsNull()) {
    if (!args.IsSequence())
      return FieldError(e.file, field + ".args", "expected a list of strings");
    for (size_t i = 0; i < args.size(); ++i) {
      if (!args[i].IsScalar()) {
        return FieldError(e.file, field + ".args[" + std::to_string(i) + "]", "expected a string");
      }
      x.args.push_back(args[i].Scalar());
    }
  }
  YAML::Node env = exec["env"];
  if (env.IsDefined() && !env.IsNull()) {
    if (!env.IsSequence())
      return FieldError(e.file, field + ".env", "expected a list of {name, value}");
    for (size_t i = 0; i < env.size(); ++i) {
      std::string at = field + ".env[" + std::to_string(i) + "]";
      if (!env[i].IsMap()) return FieldError(e.file, at, "expected {name, value}");
      Result<std::string> name = Scalar(env[i], "name", e.file, at);
      if (!name.ok()) return name.status();
      if (name->empty()) return FieldError(e.file, at + ".name", "missing");
      Result<std::string> value = Scalar(env[i], "value", e.file, at);
      if (!value.ok()) return value.status();
      x.env.emplace_back(*name, *value);
    }
  }
  Result<std::string> hint = Scalar(exec, "installHint", e.file, field);
  if (!hint.ok()) return hint.status();
  x.install_hint = *hint;
  Result<bool> info = Bool(exec, "provideClusterInfo", e.file, field);
  if (!info.ok()) return info.status();
  x.provide_cluster_info = *info;
  Result<std::string> mode = Scalar(exec, "interactiveMode", e.file, field);
  if (!mode.ok()) return mode.status();
  if (!mode->empty() && *mode != "Never" && *mode != "IfAvailable" && *mode != "Always") {
    return FieldError(e.file, field + ".interactiveMode",
                      Quote(*mode) + " must be Never, IfAvailable or Always");
  }
  x.interactive_mode = *mode;
  config->exec = std::move(x);
  return Status::Ok();
}

Status ReadUser(const Entry& e, Config* config) {
  Result<std::string> cert = DataOrFile(e, "client-certificate", nullptr);
  if (!cert.ok()) return cert.status();
  Result<std::string> key = DataOrFile(e, "client-key", nullptr);
  if (!key.ok()) return key.status();
  if (cert->empty() != key->empty()) {
    return FieldError(e.file, e.field + (cert->empty() ? ".client-certificate" : ".client-key"),
                      "missing: a client certificate needs both certificate and key");
  }
  config->client_cert_pem = *cert;
  config->client_key_pem = *key;
  Result<std::string> token = Scalar(e.body, "token", e.file, e.field);
  if (!token.ok()) return token.status();
  config->token = *token;
  Result<std::string> token_file = Scalar(e.body, "tokenFile", e.file, e.field);
  if (!token_file.ok()) return token_file.status();
  if (config->token.empty()) config->token_file = Resolve(e.file, *token_file);
  Result<std::string> user = Scalar(e.body, "username", e.file, e.field);
  if (!user.ok()) return user.status();
  Result<std::string> password = Scalar(e.body, "password", e.file, e.field);
  if (!password.ok()) return password.status();
  config->username = *user;
  config->password = *password;
  if (e.body["auth-provider"].IsDefined()) {
    return FieldError(e.file, e.field + ".auth-provider",
                      "auth providers are not supported (Kubernetes removed them); use an exec "
                      "credential plugin");
  }
  YAML::Node exec = e.body["exec"];
  if (exec.IsDefined() && !exec.IsNull()) return ReadExec(e, exec, config);
  return Status::Ok();
}

Result<Config> Load(const std::vector<std::string>& paths, const std::string& context) {
  Merged merged;
  std::string names;
  std::set<std::string> seen;
  int found = 0;
  for (const std::string& path : paths) {
    if (path.empty() || !seen.insert(path).second) continue;
    names += (names.empty() ? "" : ":") + path;
    std::error_code ec;
    if (paths.size() > 1 && !std::filesystem::exists(path, ec)) continue;  // as kubectl does
    ++found;
    if (Status s = MergeFile(path, &merged); !s.ok()) return s;
  }
  if (found == 0) return Status::NotFound("kubeconfig " + names + ": no such file");
  const std::string name = context.empty() ? merged.current_context : context;
  if (name.empty()) {
    return Status::InvalidArgument("kubeconfig " + names +
                                   ": no current-context is set and no context was named; set one "
                                   "with `kubectl config use-context NAME`");
  }
  auto ctx = merged.contexts.find(name);
  if (ctx == merged.contexts.end()) {
    std::string known;
    for (const auto& [n, unused] : merged.contexts)
      known += (known.empty() ? "" : ", ") + n;
    return Status::InvalidArgument("kubeconfig " + names + ": context " + Quote(name) +
                                   " not found" +
                                   (context.empty() ? " (it is the current-context)" : "") +
                                   "; contexts: " + (known.empty() ? "none" : known));
  }
  const Entry& c = ctx->second;
  Config config;
  config.source = "kubeconfig " + names + " (context " + name + ")";
  Result<std::string> cluster_name = Scalar(c.body, "cluster", c.file, c.field);
  if (!cluster_name.ok()) return cluster_name.status();
  if (cluster_name->empty()) return FieldError(c.file, c.field + ".cluster", "missing");
  auto cluster = merged.clusters.find(*cluster_name);
  if (cluster == merged.clusters.end()) {
    return FieldError(c.file, c.field + ".cluster", "no cluster named " + Quote(*cluster_name));
  }
  if (Status s = ReadCluster(cluster->second, &config); !s.ok()) return s;
  Result<std::string> user_name = Scalar(c.body, "user", c.file, c.field);
  if (!user_name.ok()) return user_name.status();
  if (!user_name->empty()) {
    auto user = merged.users.find(*user_name);
    if (user == merged.users.end()) {
      return FieldError(c.file, c.field + ".user", "no user named " + Quote(*user_name));
    }
    if (Status s = ReadUser(user->second, &config); !s.ok()) return s;
  }
  Result<std::string> ns = Scalar(c.body, "namespace", c.file, c.field);
  if (!ns.ok()) return ns.status();
  config.namespace_ = ns->empty() ? "default" : *ns;
  return config;
}

}  // namespace

Result<Config> LoadKubeconfig(const std::vector<std::string>& paths, const std::string& context) {
  try {
    return Load(paths, context);
  } catch (const YAML::Exception& e) {  // not expected past the checks above; never let it out
    return Status::InvalidArgument("kubeconfig: " + std::string(e.what()));
  }
}

}  // namespace drop::k8s
