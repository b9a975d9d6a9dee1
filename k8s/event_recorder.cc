#include "k8s/event_recorder.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "core/duration.h"
#include "k8s/json_util.h"

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// A map that forgets its least recently used entry beyond `capacity` (groupcache's lru.Cache, as
// client-go uses).
template <typename V>
class Lru {
 public:
  explicit Lru(size_t capacity) : capacity_(capacity) {}

  V* Get(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }

  V& Put(const std::string& key, V value) {
    if (V* v = Get(key)) {
      *v = std::move(value);
      return *v;
    }
    order_.emplace_front(key, std::move(value));
    index_[key] = order_.begin();
    if (index_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return order_.front().second;
  }

 private:
  using Order = std::list<std::pair<std::string, V>>;
  size_t capacity_;
  Order order_;
  std::unordered_map<std::string, typename Order::iterator> index_;
};

struct Pending {
  ObjectReference object;
  std::string type, reason, message;
  EventRecorder::Done done;
};

// Messages seen for one (object, type, reason) within the aggregation interval.
struct Aggregate {
  std::set<std::string> messages;
  int64_t last_ms = 0;
};

// The Event last written for a key: what a repeat patches.
struct Observed {
  int64_t count = 0;
  std::string first_timestamp;
  std::string name;
  std::string namespace_;
};

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct EventRecorder::State {
  State(std::shared_ptr<Client> c, EventRecorderOptions o)
      : client(std::move(c)),
        options(std::move(o)),
        aggregates(options.cache_size),
        observed(options.cache_size),
        spam(options.cache_size) {}

  std::shared_ptr<Client> client;
  EventRecorderOptions options;
  // I/O thread only.
  std::deque<Pending> queue;
  bool writing = false;
  Lru<Aggregate> aggregates;
  Lru<Observed> observed;
  Lru<RateLimiter> spam;
  uint64_t sequence = 0;

  int64_t NowMs() const { return options.now_ms ? options.now_ms() : WallMs(); }
};

namespace {

using State = EventRecorder::State;

json::object EventBody(const State& s, const Pending& p, const std::string& name,
                       const std::string& ns, const std::string& message, int64_t count,
                       const std::string& first, const std::string& last) {
  json::object involved{{"apiVersion", p.object.api_version},
                        {"kind", p.object.kind},
                        {"name", p.object.name},
                        {"uid", p.object.uid}};
  if (!p.object.namespace_.empty()) involved["namespace"] = p.object.namespace_;
  return json::object{
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", json::object{{"name", name}, {"namespace", ns}}},
      {"involvedObject", std::move(involved)},
      {"type", p.type},
      {"reason", p.reason},
      {"message", message},
      {"source", json::object{{"component", s.options.component}, {"host", s.options.instance}}},
      {"reportingComponent", s.options.component},
      {"reportingInstance", s.options.instance},
      {"firstTimestamp", first},
      {"lastTimestamp", last},
      {"count", count},
  };
}

asio::awaitable<void> WriteOne(std::shared_ptr<State> s, Pending p) {
  const int64_t now = s->NowMs();
  const std::string sep = "\x1f";
  const std::string source = s->options.component + sep + s->options.instance;
  const std::string object = p.object.kind + sep + p.object.namespace_ + sep + p.object.name + sep +
                             p.object.uid + sep + p.object.api_version;
  auto finish = [&p](EventOutcome outcome, const ApiStatus& status) {
    if (p.done) p.done(outcome, status);
  };

  // The spam filter: a token bucket per object and type.
  const std::string spam_key = source + sep + object + sep + p.type;
  RateLimiter* bucket = s->spam.Get(spam_key);
  if (bucket == nullptr) {
    bucket = &s->spam.Put(spam_key, RateLimiter(s->options.spam_qps, s->options.spam_burst));
  }
  if (!bucket->TryTake(RateLimiter::Clock::time_point(std::chrono::milliseconds(now)))) {
    finish(EventOutcome::kDropped, ApiStatus());
    co_return;
  }

  // Aggregation: past aggregate_max_events distinct messages for the same reason, one combined
  // Event stands for all of them.
  const std::string aggregate_key = source + sep + object + sep + p.type + sep + p.reason;
  Aggregate* agg = s->aggregates.Get(aggregate_key);
  if (agg == nullptr || now - agg->last_ms > s->options.aggregate_interval.count()) {
    agg = &s->aggregates.Put(aggregate_key, Aggregate{});
  }
  // Past the threshold every message is combined, so the set need not grow beyond it: steady
  // events keep an aggregate alive for ever, and their messages (node, duration) all differ.
  if (agg->messages.size() < s->options.aggregate_max_events) agg->messages.insert(p.message);
  agg->last_ms = now;
  std::string key = aggregate_key + sep + p.message;
  std::string message = p.message;
  if (agg->messages.size() >= s->options.aggregate_max_events) {
    key = aggregate_key;
    message = "(combined from similar events): " + p.message;
  }

  const std::string ns = p.object.namespace_.empty() ? "default" : p.object.namespace_;
  const std::string timestamp = FormatTime(now);
  int64_t count = 1;
  std::string first = timestamp;
  if (Observed* seen = s->observed.Get(key); seen != nullptr) {
    // A repeat: count it on the existing Event.
    json::object patch{
        {"count", seen->count + 1}, {"lastTimestamp", timestamp}, {"message", message}};
    std::string name = seen->name;
    ApiResult<json::object> r = co_await s->client->Patch(
        kEvents, seen->namespace_, name, "", PatchType::kStrategicMerge, json::serialize(patch));
    if (r.ok()) {
      if (Observed* again = s->observed.Get(key))
        again->count = GetInt(&*r, "count", again->count + 1);
      finish(EventOutcome::kPatched, ApiStatus());
      co_return;
    }
    if (!r.status().IsNotFound()) {
      finish(EventOutcome::kFailed, r.status());
      co_return;
    }
    // The Event expired meanwhile (Events live an hour): make it again, counting on.
    count = seen->count + 1;
    first = seen->first_timestamp;
  }
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%" PRIx64,
                static_cast<uint64_t>(now) * 1000000 + (s->sequence++ % 1000000));
  const std::string name = p.object.name + suffix;
  ApiResult<json::object> r = co_await s->client->Create(
      kEvents, ns, EventBody(*s, p, name, ns, message, count, first, timestamp),
      /*idempotent=*/true);  // the name is unique: a repeat answers AlreadyExists
  if (!r.ok() && !r.status().IsAlreadyExists()) {
    finish(EventOutcome::kFailed, r.status());
    co_return;
  }
  s->observed.Put(key, Observed{count, first, name, ns});
  finish(EventOutcome::kCreated, ApiStatus());
}

asio::awaitable<void> Drain(std::shared_ptr<State> s) {
  while (!s->queue.empty()) {
    Pending p = std::move(s->queue.front());
    s->queue.pop_front();
    co_await WriteOne(s, std::move(p));
  }
  s->writing = false;
}

}  // namespace

EventRecorder::EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options)
    : state_(std::make_shared<State>(std::move(client), std::move(options))) {}

void EventRecorder::Record(ObjectReference object, std::string type, std::string reason,
                           std::string message, Done done) {
  Pending p{std::move(object), std::move(type), std::move(reason), std::move(message),
            std::move(done)};
  asio::post(state_->client->executor(), [s = state_, p = std::move(p)]() mutable {
    s->queue.push_back(std::move(p));
    while (s->queue.size() > s->options.max_queued) {
      Pending dropped = std::move(s->queue.front());
      s->queue.pop_front();
      if (dropped.done) {
        dropped.done(EventOutcome::kDropped,
                     ApiStatus::NoResponse("QueueFull", "the Event queue is full: dropped"));
      }
    }
    if (s->writing) return;
    s->writing = true;
    asio::co_spawn(s->client->executor(), Drain(s), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  });
}

}  // namespace drop::k8s
