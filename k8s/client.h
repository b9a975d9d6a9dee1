// The Kubernetes API client: REST calls as C++20 coroutines on one Asio executor (a single I/O
// thread), with a client-side rate limit, credentials that refresh themselves, and retries that
// never repeat a write the server may have applied: 429 is retried after its Retry-After (the
// server did not run the request), 5xx and connection failures only for idempotent calls.
// Every error is an ApiStatus naming the request, the HTTP code and the server's reason.
//
// Run the coroutines on executor(), e.g. with Spawn() or RunSync() from io_thread.h.
//
// The option structs below have constructors so that they are not aggregates: GCC 12 destroys an
// aggregate temporary passed straight into a coroutine twice (`Delete(r, ns, name, {})`), and
// does the same with a conditional expression (`Get(r, ns, a ? x : y)`); pass a named value then.
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "core/status.h"
#include "k8s/api_status.h"
#include "k8s/backoff.h"
#include "k8s/config.h"
#include "k8s/credentials.h"
#include "k8s/http_transport.h"
#include "k8s/json_select.h"
#include "k8s/rate_limiter.h"
#include "k8s/resource.h"
#include "k8s/transport.h"
#include "k8s/watch_stream.h"

namespace drop::k8s {

// drop's version, as the User-Agent names it.
extern const char* const kDropVersion;

struct ClientOptions {
  std::string identity;  // the replica (pod name or host): User-Agent "drop/<version> (<identity>)"
  double qps = 20;       // client-side rate limit; qps <= 0 turns it off
  int burst = 30;
  std::chrono::milliseconds timeout{30000};  // one attempt of a request (not a watch's stream)
  int max_retries = 10;
  BackoffPolicy retry_backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(8000), 2.0,
                              0.5};
  std::chrono::milliseconds max_retry_after{60000};  // a longer Retry-After is cut to this
  HttpTransportOptions transport;
  CredentialsOptions credentials;
  // Told of each attempt that failed and is tried again (a connection error, 429, a 5xx of a call
  // that may be repeated): the error, and the wait before the next attempt. Runs on the I/O
  // thread.
  std::function<void(const ApiStatus& error, std::chrono::milliseconds wait)> on_retry;
};

// Counters since the client was made, for metrics and tests.
struct ClientStats {
  uint64_t requests = 0;  // attempts sent, watches included
  uint64_t retries = 0;
  uint64_t too_many_requests = 0;  // 429 answers
  uint64_t server_errors = 0;      // 5xx answers
  uint64_t connection_errors = 0;  // attempts without a response
  uint64_t unauthorized = 0;       // 401 answers
};

// One REST call, as Call() takes it.
struct RequestSpec {
  RequestSpec() {}   // not an aggregate (see above)
  RequestInfo info;  // what the call is, for its errors
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string content_type;
  bool idempotent = false;  // sending it twice has the effect of sending it once
};

struct ListOptions {
  ListOptions() {}  // not an aggregate (see above)
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 500;  // page size; 0: everything at once
  std::string continue_token;
  std::string resource_version;  // "" = the latest, read consistently
  // The members of the response to build (SelectiveParser); nullptr: all. Borrowed.
  const JsonSelection* selection = nullptr;
};

struct ListPage {
  std::string resource_version;
  std::string continue_token;  // empty on the last page
  boost::json::array items;
};

struct WatchOptions {
  WatchOptions() {}  // not an aggregate (see above)
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;
  bool allow_bookmarks = true;
  int64_t timeout_seconds = 0;  // the server ends the watch after this; 0: its default
  // A stream silent this long is taken as broken (the server sends bookmarks about every minute).
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(11)};
  // The members of each event to build (SelectiveParser); nullptr: all. Borrowed: it must outlive
  // the watch.
  const JsonSelection* selection = nullptr;
};

struct DeleteOptions {
  DeleteOptions() {}             // not an aggregate (see above)
  std::string uid;               // precondition: delete only the object with this uid
  std::string resource_version;  // precondition
  std::optional<int64_t> grace_period_seconds;
  std::string propagation_policy;  // Foreground | Background | Orphan
};

enum class PatchType { kMerge, kStrategicMerge, kJsonPatch };

class Client : public std::enable_shared_from_this<Client> {
 public:
  // A client for `config` doing its I/O on `executor`, which must run on one thread. Fails when
  // the TLS material in the config cannot be used.
  static Result<std::shared_ptr<Client>> Create(boost::asio::any_io_executor executor,
                                                const Config& config, ClientOptions options);
  // The same over a transport of the caller's choosing (tests).
  static std::shared_ptr<Client> CreateWithTransport(boost::asio::any_io_executor executor,
                                                     std::shared_ptr<Transport> transport,
                                                     const Config& config, ClientOptions options);

  const boost::asio::any_io_executor& executor() const { return executor_; }
  const std::string& user_agent() const { return user_agent_; }
  const Config& config() const { return config_; }
  const ClientOptions& options() const { return options_; }
  ClientStats stats() const;  // any thread
  Credentials& credentials() { return *credentials_; }

  // A call whose 2xx body is returned as is; every other call below goes through here.
  boost::asio::awaitable<ApiResult<std::string>> Call(RequestSpec spec);

  boost::asio::awaitable<ApiResult<boost::json::object>> Get(Resource resource, std::string ns,
                                                             std::string name,
                                                             std::string subresource = {});
  boost::asio::awaitable<ApiResult<ListPage>> List(Resource resource, std::string ns,
                                                   ListOptions options);
  // Opens a watch; its events are read from the stream. Only 429 and a refreshed credential are
  // retried here: the informer decides how to go on after anything else.
  boost::asio::awaitable<ApiResult<std::unique_ptr<WatchStream>>> Watch(Resource resource,
                                                                        std::string ns,
                                                                        WatchOptions options);
  // POST. apiVersion and kind are filled in when missing. `idempotent` when a repeat cannot make
  // a second object (the name is fixed and the caller takes AlreadyExists as success).
  boost::asio::awaitable<ApiResult<boost::json::object>> Create(Resource resource, std::string ns,
                                                                boost::json::object object,
                                                                bool idempotent = false);
  // PUT of the object (or of its subresource, e.g. "status").
  boost::asio::awaitable<ApiResult<boost::json::object>> Update(Resource resource, std::string ns,
                                                                std::string name,
                                                                std::string subresource,
                                                                boost::json::object object);
  boost::asio::awaitable<ApiResult<boost::json::object>> Patch(Resource resource, std::string ns,
                                                               std::string name,
                                                               std::string subresource,
                                                               PatchType type, std::string patch);
  boost::asio::awaitable<ApiResult<boost::json::object>> Delete(Resource resource, std::string ns,
                                                                std::string name,
                                                                DeleteOptions options);

  // For shutting down: from now on no attempt is tried again, and a call waiting to retry
  // returns the error it has at once. Any thread.
  void StopRetrying();

 private:
  Client(boost::asio::any_io_executor executor, std::shared_ptr<Transport> transport,
         const Config& config, ClientOptions options);
  boost::asio::awaitable<void> Sleep(std::chrono::steady_clock::duration d);
  boost::asio::awaitable<void> Throttle();
  // Counts the retry, tells on_retry of `error` and waits `d`; false when retrying has stopped
  // (before the wait or during it).
  boost::asio::awaitable<bool> PauseToRetry(const ApiStatus& error, std::chrono::milliseconds d);
  // The credential for the next attempt (and the client certificate it may bring).
  boost::asio::awaitable<Result<std::string>> Authorization();
  std::chrono::milliseconds RetryAfter(const std::string& header, Backoff& backoff) const;

  boost::asio::any_io_executor executor_;
  std::shared_ptr<Transport> transport_;
  Config config_;
  ClientOptions options_;
  std::string user_agent_;
  std::unique_ptr<Credentials> credentials_;
  std::string client_cert_pem_;  // the exec plugin's certificate in use, if any
  RateLimiter limiter_;

  std::atomic<bool> stopping_{false};
  std::set<boost::asio::steady_timer*> pausing_;  // the waits before a retry; I/O thread only

  std::atomic<uint64_t> requests_{0}, retries_{0}, too_many_requests_{0}, server_errors_{0},
      connection_errors_{0}, unauthorized_{0};
};

// The object a JSON response body holds, with only the members `selection` keeps (nullptr: all);
// an error naming the request when it holds none.
ApiResult<boost::json::object> ParseObject(const RequestInfo& info, std::string_view body,
                                           const JsonSelection* selection = nullptr);

}  // namespace drop::k8s
