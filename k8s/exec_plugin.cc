#include "k8s/exec_plugin.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstring>
#include <memory>

#include "core/duration.h"
#include "k8s/base64.h"
#include "k8s/json_util.h"

extern char** environ;

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;
using boost::system::error_code;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string Who(const ExecConfig& exec) {
  return "exec plugin " + exec.command + " (" + exec.source + ")";
}

std::string ExecInfo(const ExecConfig& exec, const std::string& server, const std::string& ca_pem) {
  json::object spec{{"interactive", false}};
  if (exec.provide_cluster_info) {
    json::object cluster{{"server", server}};
    if (!ca_pem.empty()) cluster["certificate-authority-data"] = Base64Encode(ca_pem);
    spec["cluster"] = std::move(cluster);
  }
  json::object info{{"apiVersion", exec.api_version}, {"kind", "ExecCredential"}, {"spec", spec}};
  return json::serialize(info);
}

// The child's end of things: its pipes and pid, shared with the timer that may kill it.
struct Child {
  Child(const asio::any_io_executor& ex, int out_fd, int err_fd)
      : out(ex, out_fd), err(ex, err_fd) {}
  asio::posix::stream_descriptor out;
  asio::posix::stream_descriptor err;
  pid_t pid = -1;
  bool timed_out = false;
};

asio::awaitable<void> ReadAll(asio::posix::stream_descriptor& d, std::string* into) {
  char buf[4096];
  while (into->size() < (1 << 20)) {
    auto [ec, n] = co_await d.async_read_some(asio::buffer(buf), kUse);
    into->append(buf, n);
    if (ec) break;  // EOF, or closed by the timeout
  }
}

}  // namespace

Result<ExecCredential> ParseExecCredential(std::string_view output, const ExecConfig& exec) {
  json::error_code ec;
  json::value v = json::parse(output, ec);
  if (ec || !v.is_object()) {
    return Status::InvalidArgument(Who(exec) + ": its output is not an ExecCredential JSON object" +
                                   (ec ? " (" + ec.message() + ")" : ""));
  }
  const json::object& o = v.as_object();
  if (GetString(o, "kind") != "ExecCredential") {
    return Status::InvalidArgument(Who(exec) + ": printed kind \"" +
                                   std::string(GetString(o, "kind")) + "\", want ExecCredential");
  }
  if (GetString(o, "apiVersion") != exec.api_version) {
    return Status::InvalidArgument(Who(exec) + ": printed apiVersion \"" +
                                   std::string(GetString(o, "apiVersion")) +
                                   "\" but the kubeconfig asks for " + exec.api_version);
  }
  const json::object* status = GetObject(o, "status");
  if (status == nullptr) return Status::InvalidArgument(Who(exec) + ": printed no status");
  ExecCredential c;
  c.token = GetString(status, "token");
  c.client_cert_pem = GetString(status, "clientCertificateData");
  c.client_key_pem = GetString(status, "clientKeyData");
  if (c.token.empty() && (c.client_cert_pem.empty() || c.client_key_pem.empty())) {
    return Status::InvalidArgument(
        Who(exec) +
        ": printed neither status.token nor status.clientCertificateData "
        "with status.clientKeyData");
  }
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    return Status::InvalidArgument(Who(exec) + ": printed a client certificate without its key");
  }
  std::string_view expiry = GetString(status, "expirationTimestamp");
  if (!expiry.empty()) {
    Result<int64_t> t = ParseTime(expiry);
    if (!t.ok()) {
      return Status::InvalidArgument(Who(exec) +
                                     ": status.expirationTimestamp: " + t.status().message());
    }
    c.expiry_ms = *t;
  }
  return c;
}

asio::awaitable<Result<ExecCredential>> RunExecPlugin(asio::any_io_executor executor,
                                                      ExecConfig exec, std::string server,
                                                      std::string ca_pem,
                                                      std::chrono::milliseconds timeout) {
  if (exec.interactive_mode == "Always") {
    co_return Status::FailedPrecondition(Who(exec) +
                                         ": interactiveMode is Always, but drop has no terminal; "
                                         "use Never or IfAvailable");
  }
  // The environment: ours, then the kubeconfig's exec.env, then KUBERNETES_EXEC_INFO.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view kv(*e);
    std::string_view key = kv.substr(0, kv.find('='));
    bool overridden = key == "KUBERNETES_EXEC_INFO";
    for (const auto& [name, unused] : exec.env)
      overridden = overridden || key == name;
    if (!overridden) env.emplace_back(kv);
  }
  for (const auto& [name, value] : exec.env)
    env.push_back(name + "=" + value);
  env.push_back("KUBERNETES_EXEC_INFO=" + ExecInfo(exec, server, ca_pem));
  std::vector<char*> envp;
  for (std::string& s : env)
    envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args{exec.command};
  args.insert(args.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (std::string& s : args)
    argv.push_back(s.data());
  argv.push_back(nullptr);

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0)
    co_return Status::IOError(Who(exec) + ": pipe: " + std::strerror(errno));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    co_return Status::IOError(Who(exec) + ": pipe: " + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, exec.command.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  close(err[1]);
  if (rc != 0) {
    close(out[0]);
    close(err[0]);
    co_return Status::NotFound(Who(exec) + ": cannot run it: " + std::strerror(rc) +
                               (exec.install_hint.empty() ? "" : "; " + exec.install_hint));
  }
  auto child = std::make_shared<Child>(executor, out[0], err[0]);
  child->pid = pid;
  asio::steady_timer timer(executor, timeout);
  timer.async_wait([child](error_code ec) {
    if (ec) return;
    child->timed_out = true;
    kill(child->pid, SIGKILL);
    error_code ignored;
    child->out.close(ignored);
    child->err.close(ignored);
  });
  std::string stdout_text, stderr_text;
  using namespace asio::experimental::awaitable_operators;
  co_await (ReadAll(child->out, &stdout_text) && ReadAll(child->err, &stderr_text));
  // The plugin closed its output: it is exiting. Reap it without blocking the executor.
  int wstatus = 0;
  while (true) {
    pid_t r = waitpid(pid, &wstatus, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
    if (r == 0) {
      if (std::chrono::steady_clock::now() > timer.expiry()) kill(pid, SIGKILL);
      asio::steady_timer tick(executor, std::chrono::milliseconds(10));
      co_await tick.async_wait(kUse);
    }
  }
  timer.cancel();
  if (child->timed_out) {
    co_return Status::Unavailable(Who(exec) + ": did not finish within " +
                                  std::to_string(timeout.count()) + " ms; killed");
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    while (!stderr_text.empty() && stderr_text.back() == '\n')
      stderr_text.pop_back();
    co_return Status::Unavailable(
        Who(exec) + ": " +
        (WIFEXITED(wstatus) ? "exited with status " + std::to_string(WEXITSTATUS(wstatus))
                            : std::string("was killed by a signal")) +
        (stderr_text.empty() ? "" : ": " + stderr_text.substr(0, 2000)));
  }
  co_return ParseExecCredential(stdout_text, exec);
}

}  // namespace drop::k8s
