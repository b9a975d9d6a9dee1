// The Authorization header for the next request: a static bearer token, a token file re-read as
// it rotates (the kubelet rewrites a projected ServiceAccount token long before it expires), an
// exec plugin's token kept until its expirationTimestamp, or HTTP basic authentication.
// Client certificates are the transport's business, except those an exec plugin hands out.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "k8s/config.h"

namespace drop::k8s {

struct CredentialsOptions {
  // How long a token read from a file is used before the file is read again (client-go: 1 min).
  std::chrono::milliseconds token_file_refresh{60000};
  std::chrono::milliseconds exec_timeout{60000};
  // The wall clock, milliseconds since the epoch, for exec credentials' expiry. Tests may skew it.
  std::function<int64_t()> now_ms;
};

struct Credential {
  std::string authorization;  // "Bearer ...", "Basic ..." or empty
  // From an exec plugin that hands out client certificates; empty otherwise.
  std::string client_cert_pem;
  std::string client_key_pem;
};

class Credentials {
 public:
  Credentials(boost::asio::any_io_executor executor, Config config, CredentialsOptions options);

  // The credential to send now. Reads the token file or runs the exec plugin when what it holds
  // is missing, stale or expired; concurrent callers wait for one run. On the executor only.
  boost::asio::awaitable<Result<Credential>> Get();

  // The server answered 401: forget the token so the next Get() reads or fetches a new one.
  void Invalidate();
  // Whether Invalidate() can make a difference (a token file or an exec plugin).
  bool Refreshable() const { return !config_.token_file.empty() || config_.exec.has_value(); }

  int exec_runs() const { return exec_runs_; }  // for tests and metrics

 private:
  boost::asio::awaitable<Status> Refresh();
  bool Fresh() const;
  int64_t NowMs() const;

  boost::asio::any_io_executor executor_;
  Config config_;
  CredentialsOptions options_;
  Credential current_;
  bool have_ = false;
  std::chrono::steady_clock::time_point read_at_;  // token file
  int64_t expiry_ms_ = 0;                          // exec credential; 0 = none
  bool refreshing_ = false;
  std::shared_ptr<boost::asio::steady_timer> waiters_;  // cancelled when a refresh ends
  int exec_runs_ = 0;
};

}  // namespace drop::k8s
