#include "k8s/leader_election.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>
#include <random>

#include "k8s/io_thread.h"
#include "k8s/json_util.h"

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// A candidate waits retry_period stretched by up to this fraction between attempts, so that
// candidates do not move in lockstep.
constexpr double kJitter = 0.2;

// metav1.MicroTime: RFC 3339 with microseconds, UTC.
std::string MicroTime(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(us % 1000000));
  return buf;
}

// The Lease's spec: what the candidates compare.
struct LeaseRecord {
  std::string holder;
  int64_t duration_seconds = 0;
  std::string acquire_time;
  std::string renew_time;
  int64_t transitions = 0;

  bool operator==(const LeaseRecord&) const = default;

  static LeaseRecord From(const json::object& lease) {
    const json::object* spec = GetObject(lease, "spec");
    LeaseRecord r;
    r.holder = GetString(spec, "holderIdentity");
    r.duration_seconds = GetInt(spec, "leaseDurationSeconds");
    r.acquire_time = GetString(spec, "acquireTime");
    r.renew_time = GetString(spec, "renewTime");
    r.transitions = GetInt(spec, "leaseTransitions");
    return r;
  }

  json::object Spec() const {
    json::object s{{"leaseDurationSeconds", duration_seconds},
                   {"acquireTime", acquire_time},
                   {"renewTime", renew_time},
                   {"leaseTransitions", transitions}};
    if (!holder.empty()) s["holderIdentity"] = holder;
    return s;
  }
};

int64_t Nanos(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct LeaderElector::State {
  std::shared_ptr<Client> client;
  LeaderElectionOptions options;
  LeaderCallbacks callbacks;
  std::mt19937_64 random{std::random_device{}()};

  // I/O thread only.
  bool stopped = false;
  bool leading = false;
  std::shared_ptr<asio::steady_timer> timer;     // the wait in progress
  std::shared_ptr<asio::steady_timer> deadline;  // fires when leadership lapses
  LeaseRecord observed;
  SteadyClock::time_point observed_time;
  bool have_observed = false;

  std::atomic<int64_t> leading_until{0};  // steady-clock nanoseconds; 0 = not leading
  mutable std::mutex mu;
  std::string leader;

  void SetLeader(const std::string& holder) {
    {
      std::lock_guard lock(mu);
      if (leader == holder) return;
      leader = holder;
    }
    if (callbacks.new_leader) callbacks.new_leader(holder);
  }
};

namespace {

using State = LeaderElector::State;

asio::awaitable<void> Wait(std::shared_ptr<State> s, SteadyClock::duration d) {
  if (s->stopped) co_return;
  s->timer = std::make_shared<asio::steady_timer>(s->client->executor(), d);
  auto timer = s->timer;
  co_await timer->async_wait(kUse);
  s->timer.reset();
}

// Stops leading: from now on Leading() is false, and the operator hears of it.
void Lapse(const std::shared_ptr<State>& s) {
  if (!s->leading) return;
  s->leading = false;
  s->leading_until.store(0);
  if (s->deadline) s->deadline->cancel();
  if (s->callbacks.stopped_leading) s->callbacks.stopped_leading();
}

// A renewal whose attempt began at `began` succeeded: lead until began + renew_deadline.
void Renewed(const std::shared_ptr<State>& s, SteadyClock::time_point began) {
  SteadyClock::time_point until = began + s->options.renew_deadline;
  if (until <= SteadyClock::now()) return;  // too late to count
  s->leading_until.store(Nanos(until));
  s->deadline = std::make_shared<asio::steady_timer>(s->client->executor(), until);
  s->deadline->async_wait([s, until](boost::system::error_code ec) {
    if (ec || !s->leading) return;
    if (SteadyClock::now() >= until && s->leading_until.load() == Nanos(until)) Lapse(s);
  });
}

// One try (client-go's tryAcquireOrRenew): take or renew the Lease if it is free, ours, or
// expired as this replica has observed it.
asio::awaitable<bool> TryAcquireOrRenew(std::shared_ptr<State> s) {
  const LeaderElectionOptions& o = s->options;
  const std::string now = MicroTime(std::chrono::system_clock::now());
  const int64_t duration_s =
      std::chrono::duration_cast<std::chrono::seconds>(o.lease_duration).count();
  auto failed = [&](const ApiStatus& error) {
    if (s->callbacks.failed && !s->stopped) s->callbacks.failed(error);
    return false;
  };
  ApiResult<json::object> got = co_await s->client->Get(kLeases, o.namespace_, o.name);
  if (!got.ok()) {
    if (!got.status().IsNotFound()) co_return failed(got.status());
    LeaseRecord r{o.identity, duration_s, now, now, 0};
    json::object lease{{"metadata", json::object{{"name", o.name}, {"namespace", o.namespace_}}},
                       {"spec", r.Spec()}};
    ApiResult<json::object> made =
        co_await s->client->Create(kLeases, o.namespace_, std::move(lease));
    if (!made.ok()) co_return made.status().IsAlreadyExists() ? false : failed(made.status());
    s->observed = r;
    s->observed_time = SteadyClock::now();
    s->have_observed = true;
    s->SetLeader(o.identity);
    co_return true;
  }
  LeaseRecord old = LeaseRecord::From(*got);
  if (!s->have_observed || !(old == s->observed)) {
    s->observed = old;
    s->observed_time = SteadyClock::now();
    s->have_observed = true;
  }
  s->SetLeader(old.holder);
  const bool mine = old.holder == o.identity;
  if (!old.holder.empty() && !mine &&
      s->observed_time + std::chrono::seconds(old.duration_seconds) > SteadyClock::now()) {
    Lapse(s);         // if this replica thought it led, the Lease says otherwise: stop acting now
    co_return false;  // another replica holds it and has renewed it lately
  }
  LeaseRecord r{o.identity, duration_s, mine ? old.acquire_time : now, now,
                mine ? old.transitions : old.transitions + 1};
  json::object lease = std::move(*got);
  lease["spec"] = r.Spec();
  ApiResult<json::object> updated =
      co_await s->client->Update(kLeases, o.namespace_, o.name, "", std::move(lease));
  if (!updated.ok()) {  // a Conflict: someone else wrote it first
    co_return updated.status().IsConflict() ? false : failed(updated.status());
  }
  s->observed = r;
  s->observed_time = SteadyClock::now();
  s->SetLeader(o.identity);
  co_return true;
}

// Gives the Lease up, if it is still ours.
asio::awaitable<void> Release(std::shared_ptr<State> s) {
  const LeaderElectionOptions& o = s->options;
  ApiResult<json::object> got = co_await s->client->Get(kLeases, o.namespace_, o.name);
  if (!got.ok() || LeaseRecord::From(*got).holder != o.identity) co_return;
  const std::string now = MicroTime(std::chrono::system_clock::now());
  LeaseRecord r{"", 1, now, now, LeaseRecord::From(*got).transitions};
  json::object lease = std::move(*got);
  lease["spec"] = r.Spec();
  co_await s->client->Update(kLeases, o.namespace_, o.name, "", std::move(lease));
}

asio::awaitable<void> Run(std::shared_ptr<State> s) {
  const LeaderElectionOptions& o = s->options;
  std::uniform_real_distribution<double> jitter(0.0, kJitter);
  while (!s->stopped) {
    // Candidate.
    while (!s->stopped) {
      SteadyClock::time_point began = SteadyClock::now();
      bool acquired = co_await TryAcquireOrRenew(s);
      if (s->stopped) break;
      if (acquired) {
        s->leading = true;
        Renewed(s, began);
        if (s->leading_until.load() != 0) {
          if (s->callbacks.started_leading) s->callbacks.started_leading();
          break;
        }
        s->leading = false;  // the attempt took longer than renew_deadline
      }
      co_await Wait(s, std::chrono::duration_cast<SteadyClock::duration>(
                           o.retry_period * (1.0 + jitter(s->random))));
    }
    // Leader: renew every retry_period; the deadline timer ends leadership if renewals stop.
    while (!s->stopped && s->leading) {
      co_await Wait(s, o.retry_period);
      if (s->stopped || !s->leading) break;
      SteadyClock::time_point began = SteadyClock::now();
      bool renewed = co_await TryAcquireOrRenew(s);
      if (renewed && s->leading && !s->stopped) Renewed(s, began);
    }
  }
  bool was_leading = s->leading;
  Lapse(s);
  if (was_leading && o.release_on_stop) co_await Release(s);
}

}  // namespace

LeaderElector::LeaderElector(std::shared_ptr<State> state) : state_(std::move(state)) {}

Result<std::unique_ptr<LeaderElector>> LeaderElector::Create(asio::any_io_executor executor,
                                                             const Config& config,
                                                             ClientOptions client_options,
                                                             LeaderElectionOptions options,
                                                             LeaderCallbacks callbacks) {
  if (options.identity.empty()) {
    return Status::InvalidArgument("leader election: the replica's identity is empty");
  }
  if (!(options.lease_duration > options.renew_deadline)) {
    return Status::InvalidArgument(
        "leader election: lease duration must be longer than the renew deadline");
  }
  if (!(options.renew_deadline > options.retry_period * (1.0 + kJitter))) {
    return Status::InvalidArgument(
        "leader election: the renew deadline must be longer than 1.2 retry periods");
  }
  if (options.retry_period < std::chrono::milliseconds(1)) {
    return Status::InvalidArgument("leader election: the retry period must be positive");
  }
  // Each attempt must end in time for another within the renew deadline, and is retried by the
  // elector itself.
  client_options.max_retries = 0;
  client_options.timeout = std::min(client_options.timeout, options.renew_deadline / 2);
  client_options.qps = 0;
  if (client_options.identity.empty()) client_options.identity = options.identity;
  Result<std::shared_ptr<Client>> client = Client::Create(executor, config, client_options);
  if (!client.ok()) return client.status();
  auto state = std::make_shared<State>();
  state->client = std::move(*client);
  state->options = std::move(options);
  state->callbacks = std::move(callbacks);
  return std::unique_ptr<LeaderElector>(new LeaderElector(std::move(state)));
}

LeaderElector::~LeaderElector() {
  Stop();
}

void LeaderElector::Start() {
  if (started_) return;
  started_ = true;
  done_ = Launch(state_->client->executor(), Run(state_));
}

void LeaderElector::Stop() {
  asio::post(state_->client->executor(), [s = state_] {
    s->stopped = true;
    if (s->timer) s->timer->cancel();
  });
}

bool LeaderElector::WaitStopped(std::chrono::milliseconds timeout) {
  if (!started_) return true;
  return done_.wait_for(timeout) == std::future_status::ready;
}

bool LeaderElector::Leading() const {
  int64_t until = state_->leading_until.load();
  return until != 0 && Nanos(SteadyClock::now()) < until;
}

std::string LeaderElector::Leader() const {
  std::lock_guard lock(state_->mu);
  return state_->leader;
}

}  // namespace drop::k8s
