#include "k8s/manager.h"

#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/build.h"
#include "core/drop_pod.h"
#include "core/duration.h"
#include "core/fold.h"
#include "core/loop.h"
#include "core/state.h"
#include "journal/journal.h"
#include "k8s/batch_log.h"
#include "k8s/client.h"
#include "k8s/config.h"
#include "k8s/event_recorder.h"
#include "k8s/executor.h"
#include "k8s/health_server.h"
#include "k8s/http_transport.h"
#include "k8s/informer.h"
#include "k8s/io_thread.h"
#include "k8s/leader_election.h"
#include "k8s/log.h"
#include "k8s/metrics.h"
#include "k8s/resource.h"

namespace drop::k8s {
namespace {

class SystemClock : public Clock {
 public:
  int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

std::string DefaultIdentity() {
  if (const char* pod = std::getenv("POD_NAME"); pod != nullptr && *pod != '\0') return pod;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) return "drop";
  return std::string(host) + "_" + std::to_string(getpid());
}

// "127.0.0.1:8443", "[::1]:8081".
std::string HostPort(const boost::asio::ip::address& a, int port) {
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(port);
}

// civetweb's form of a bind address: "8443" (every interface) or "127.0.0.1:8443".
std::string CivetAddress(const boost::asio::ip::tcp::endpoint& endpoint) {
  const boost::asio::ip::address& a = endpoint.address();
  if (a.is_unspecified() && a.is_v4()) return std::to_string(endpoint.port());
  return HostPort(a, endpoint.port());
}

// Why the metrics server (civetweb, whose own error names no cause) could not listen on
// `endpoint`: the error of a trial bind, else `fallback`.
std::string WhyNotListening(const boost::asio::ip::tcp::endpoint& endpoint,
                            const std::string& fallback) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor trial(io);
  boost::system::error_code error;
  trial.open(endpoint.protocol(), error);
  if (!error) trial.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true), error);
  if (!error) trial.bind(endpoint, error);
  if (error) return error.message();
  return fallback;
}

// Waits for SIGTERM or SIGINT on a thread of its own (the signals are blocked everywhere else),
// and for other reasons to stop (leadership lost, the loop failing).
class Stopper {
 public:
  Stopper() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    thread_ = std::thread([this, set] {
      int sig = 0;
      sigwait(&set, &sig);
      if (closing_) return;  // our own wake-up from the destructor
      Request("received " + std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    });
  }
  ~Stopper() {
    closing_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }
  void Request(std::string why) {
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      why_ = std::move(why);
      hook = hook_;
    }
    cv_.notify_all();
    if (hook) hook();
  }
  // `hook` runs (once) when a stop is requested.
  void OnStop(std::function<void()> hook) {
    bool now;
    {
      std::lock_guard lock(mu_);
      hook_ = hook;
      now = stopping_;
    }
    if (now) hook();
  }
  bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }
  std::string why() const {
    std::lock_guard lock(mu_);
    return why_;
  }
  // Waits until `pred` holds or a stop is requested; true when `pred` held.
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock lock(mu_);
    while (!stopping_ && !pred())
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    return !stopping_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::string why_;
  std::function<void()> hook_;
  std::atomic<bool> closing_{false};
  std::thread thread_;
};

}  // namespace

Status RunManager(const ManagerOptions& in) {
  ManagerOptions o = in;
  Stopper stopper;  // first: every thread started after it has the signals blocked
  Level level;
  if (!Logger::ParseLevel(o.log_level, &level)) {
    return Status::InvalidArgument("--log-level \"" + o.log_level +
                                   "\": use debug, info, warn or error");
  }
  Logger log(level);
  if (o.identity.empty()) o.identity = DefaultIdentity();
  if (o.operator_image.empty()) {
    const char* env = std::getenv("DROP_OPERATOR_IMAGE");
    o.operator_image =
        env != nullptr && *env != '\0' ? env : std::string("ghcr.io/drop-io/drop:") + kDropVersion;
  }
  std::optional<boost::asio::ip::tcp::endpoint> health_endpoint;
  if (o.health_probe_bind_address != "0") {
    Result<boost::asio::ip::tcp::endpoint> e =
        ParseBindAddress(o.health_probe_bind_address, "--health-probe-bind-address");
    if (!e.ok()) return e.status();
    health_endpoint = *e;
  }
  std::optional<boost::asio::ip::tcp::endpoint> metrics_endpoint;
  if (o.metrics_bind_address != "0") {
    Result<boost::asio::ip::tcp::endpoint> e =
        ParseBindAddress(o.metrics_bind_address, "--metrics-bind-address");
    if (!e.ok()) return e.status();
    if (e->address().is_v6()) {  // civetweb as Debian builds it has no IPv6
      return Status::InvalidArgument("--metrics-bind-address \"" + o.metrics_bind_address +
                                     "\": the metrics server takes IPv4 addresses only; use "
                                     ":PORT or 127.0.0.1:PORT");
    }
    metrics_endpoint = *e;
  }

  LoadOptions load;
  load.kubeconfig = o.kubeconfig;
  load.context = o.context;
  Result<Config> config = LoadConfig(load);
  if (!config.ok()) return config.status();
  // Checked before it is logged: a URL with a password in it is refused, not written out.
  if (Result<ServerAddress> server = ParseServerUrl(config->server); !server.ok()) {
    return Status::InvalidArgument(config->source + ": " + server.status().message());
  }
  log.Info("starting", {{"version", kBuild},
                        {"identity", o.identity},
                        {"config", config->source},
                        {"server", config->server},
                        {"journal", o.journal_dir}});

  IoThread io;
  ClientOptions client_options;
  client_options.identity = o.identity;
  client_options.qps = o.qps;
  client_options.burst = o.burst;
  // The client retries on its own; the log says why it has to. A 429 is the server's flow
  // control at work, not a fault.
  client_options.on_retry = [&log, server = config->server](const ApiStatus& error,
                                                            std::chrono::milliseconds wait) {
    log.Log(error.http_code() == 429 ? Level::kDebug : Level::kWarn, "API request failed; retrying",
            {{"server", server},
             {"error", error.message()},
             {"retryIn", FormatDuration(wait.count())}});
  };
  Result<std::shared_ptr<Client>> client = Client::Create(io.executor(), *config, client_options);
  if (!client.ok()) return client.status();

  std::atomic<bool> ready{false}, loop_alive{true}, led{!o.leader_elect};
  auto not_ready = [&]() -> std::string {
    if (ready) return "";
    if (!led) return "waiting to lead: another replica holds the Lease, or it cannot be reached";
    if (!loop_alive) return "stopping";
    return "the first relist is not journaled yet";
  };
  std::unique_ptr<HealthServer> health;
  if (health_endpoint) {
    Result<std::unique_ptr<HealthServer>> h = HealthServer::Start(
        *health_endpoint, [&] { return loop_alive.load(); }, not_ready);
    if (!h.ok()) return h.status();
    health = std::move(*h);
  }

  // Every replica serves /metrics, as a standby's scrape target that refused connections would
  // read as down; drop's own metrics join once it leads and has opened the journal.
  std::unique_ptr<prometheus::Exposer> exposer;
  // The exposer serves a path only once something is registered there: an empty registry until
  // then.
  auto nothing_yet = std::make_shared<prometheus::Registry>();
  if (metrics_endpoint) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(CivetAddress(*metrics_endpoint), 2);
    } catch (const std::exception& e) {
      return Status::Unavailable(
          "--metrics-bind-address " + o.metrics_bind_address + ": cannot listen: " +
          WhyNotListening(*metrics_endpoint, e.what()) + "; choose another address");
    }
    exposer->RegisterCollectable(nothing_yet);
  }
  // Where to scrape and probe, with the ports a ":0" picked.
  boost::json::object listening;
  if (exposer != nullptr && !exposer->GetListeningPorts().empty()) {
    listening["metrics"] =
        HostPort(metrics_endpoint->address(), exposer->GetListeningPorts().front());
  }
  if (health != nullptr) listening["health"] = HostPort(health_endpoint->address(), health->port());
  if (!listening.empty()) log.Info("listening", std::move(listening));

  // Lead before anything else: a follower neither reads nor writes the journal.
  std::unique_ptr<LeaderElector> elector;
  std::atomic<bool> lost{false};
  if (o.leader_elect) {
    LeaderElectionOptions le;
    le.namespace_ = o.namespace_;
    le.identity = o.identity;
    LeaderCallbacks callbacks;
    callbacks.stopped_leading = [&] {
      if (stopper.stopping()) return;  // giving the Lease up on the way out is not losing it
      lost = true;
      stopper.Request("lost the leader election Lease");
    };
    callbacks.new_leader = [&](const std::string& who) {
      log.Info("leader", {{"leader", who}, {"identity", o.identity}});
    };
    callbacks.failed = [&log, lease = le.namespace_ + "/" + le.name, server = config->server,
                        retry = FormatDuration(le.retry_period.count())](const ApiStatus& error) {
      log.Warn(
          "leader election failed; retrying",
          {{"lease", lease}, {"server", server}, {"error", error.message()}, {"retryIn", retry}});
    };
    Result<std::unique_ptr<LeaderElector>> e =
        LeaderElector::Create(io.executor(), *config, client_options, le, callbacks);
    if (!e.ok()) return e.status();
    elector = std::move(*e);
    elector->Start();
    log.Info("waiting to lead", {{"lease", o.namespace_ + "/" + le.name}});
    if (!stopper.WaitFor([&] { return elector->Leading(); })) {
      elector->Stop();
      elector->WaitStopped(std::chrono::seconds(5));
      log.Info("stopped before leading", {{"why", stopper.why()}});
      return Status::Ok();
    }
    log.Info("leading", {{"identity", o.identity}});
    led = true;
  }
  auto leading = [&] { return elector == nullptr || elector->Leading(); };

  journal::JournalOptions jo;
  jo.dir = o.journal_dir;
  jo.retention_age_ms = o.journal_retention_ms;
  auto started = std::chrono::steady_clock::now();
  Result<std::unique_ptr<journal::Journal>> journal = journal::Journal::Open(jo);
  if (!journal.ok()) return journal.status();
  v1::State state = (*journal)->TakeRecoveredState();
  log.Info("journal opened",
           {{"journal", o.journal_dir},
            {"lastSeq", state.last_seq()},
            {"seconds",
             std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});

  Metrics metrics(&(*journal)->metrics(),
                  [j = journal->get()] { return j->store().BytesOnDisk(); });
  // The server outlives the metrics and the journal they read: they leave it before they go (a
  // scrape collects under the lock that taking them out waits on).
  struct Served {
    prometheus::Exposer* exposer;
    std::vector<std::shared_ptr<prometheus::Collectable>> collectables;
    ~Served() {
      for (const auto& c : collectables)
        exposer->RemoveCollectable(c);
    }
  };
  std::optional<Served> served;
  if (exposer != nullptr) {
    served.emplace(exposer.get(), metrics.collectables());
    for (const auto& c : served->collectables)
      exposer->RegisterCollectable(c);
  }

  SystemClock clock;
  Loop* loop_ptr = nullptr;
  auto submit = [&loop_ptr](v1::Entry e) { loop_ptr->Submit(std::move(e)); };
  EventRecorderOptions eo;
  eo.instance = o.identity;
  auto events = std::make_shared<EventRecorder>(*client, eo);
  ApiExecutor executor(*client, events, submit, leading);
  Loop loop(std::move(state), journal->get(), &executor, &clock);
  loop_ptr = &loop;
  BatchLog log_batch(log);
  loop.OnCommitted([&](std::span<const v1::Entry> batch, const v1::State& s) {
    metrics.Observe(batch, s);
    log_batch(batch);
    ready = Synced(s) && leading();
  });

  v1::Entry start;
  v1::OperatorConfig* cfg = start.mutable_started()->mutable_config();
  cfg->set_namespace_(o.namespace_);
  cfg->set_init_image(o.operator_image);
  cfg->set_noop_path(std::string(kNoopPathInOperatorImage));
  cfg->set_version(kBuild);  // the commit too: a replay tells its decisions from another build's
  cfg->set_identity(o.identity);
  std::vector<std::unique_ptr<Informer>> informers;
  for (const InformerOptions& io_options : OperatorInformers(o.namespace_)) {
    cfg->add_watches(io_options.kind);
  }
  loop.Submit(start);
  for (InformerOptions io_options : OperatorInformers(o.namespace_)) {
    // The informer retries on its own; the log says why it has to, and against which server.
    io_options.on_error = [&log, &config, kind = io_options.kind](
                              std::string_view call, const std::string& error,
                              std::chrono::milliseconds retry_in) {
      log.Warn("list or watch failed; retrying",
               {{"call", std::string(call) + " " + std::string(ResourceFor(kind)->plural)},
                {"server", config->server},
                {"error", error},
                {"retryIn", FormatDuration(retry_in.count())}});
    };
    informers.push_back(std::make_unique<Informer>(*client, io_options, submit));
    informers.back()->Start();
  }

  // On a stop: no new watch inputs; the loop commits and hands to the executor what it holds
  // (results of writes still in flight included) and returns.
  stopper.OnStop([&] {
    for (auto& i : informers)
      i->Stop();
    loop.Stop();
  });
  Status run = loop.Run();
  loop_alive = false;
  ready = false;
  if (!run.ok()) stopper.Request("the loop stopped: " + run.message());
  // The decisions in the journal go out while this replica still leads; what does not make it
  // in time is decided again by the next process (OperatorStarted clears writes in flight).
  executor.Stop();
  if (!executor.Drain(std::chrono::seconds(10))) {
    log.Info("writes still in flight at exit; the next start decides them again");
  }
  // The writes have had their time. The informers may be waiting to retry a list against a server
  // that is gone: no more tries, so they end now.
  (*client)->StopRetrying();
  for (auto& i : informers)
    i->WaitStopped(std::chrono::seconds(2));
  if (elector != nullptr) {
    elector->Stop();
    elector->WaitStopped(std::chrono::seconds(5));
  }
  io.Stop();  // nothing runs on the I/O thread past this point: what it uses goes next
  log.Info("stopped", {{"why", stopper.why()}, {"lastSeq", loop.state().last_seq()}});
  if (!run.ok()) return run;
  if (lost) return Status::Unavailable("lost leadership; restarting to campaign again");
  return Status::Ok();
}

}  // namespace drop::k8s
