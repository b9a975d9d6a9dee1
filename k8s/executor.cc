#include "k8s/executor.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <deque>
#include <future>
#include <optional>
#include <thread>

#include "core/state.h"
#include "core/utf8.h"
#include "k8s/io_thread.h"
#include "k8s/json_util.h"
#include "k8s/manifests.h"
#include "k8s/writes.h"

namespace drop::k8s {
namespace asio = boost::asio;

// What the executor and its coroutines share; outlives the executor while coroutines finish.
struct ApiExecutor::Shared {
  std::shared_ptr<Client> client;
  std::shared_ptr<EventRecorder> events;
  EntrySink results;
  std::function<bool()> may_write;
  std::atomic<bool> stopped{false};
  std::map<std::string, std::unique_ptr<asio::steady_timer>> timers;  // I/O thread only
  // Writes wait here, in the order they were decided, while kMaxInFlight are in flight: a pass
  // that starts thousands of pulls must not hold thousands of requests (and their bodies) at once.
  std::deque<std::function<void()>> waiting;  // I/O thread only
  int in_flight = 0;                          // I/O thread only
  // Status writes go one at a time per CachedImage, the newest replacing one not yet sent: two in
  // flight at once would conflict, and the older one, retried, would write over the newer.
  struct StatusLane {
    bool busy = false;
    std::optional<std::pair<v1::Entry, v1::PatchStatus>> next;
    // The resourceVersion drop's last write was made from, and the one it produced: a write made
    // from the same version (the watch has not shown drop its own write yet) uses the new one.
    std::string written_from, written_to;
    std::chrono::steady_clock::time_point idle_since;  // when its last write ended
  };
  std::map<std::string, StatusLane> status_lanes;  // I/O thread only
  // A lane idle this long is forgotten, so a deleted CachedImage leaves nothing behind. The watch
  // has shown drop its own write by then; if it has not, a write from the old version meets a
  // conflict, which UpdateStatus resolves by reading the object again.
  std::chrono::steady_clock::duration forget_lanes_after;
  std::chrono::steady_clock::time_point lanes_swept;  // I/O thread only

  // Drops the lanes idle for forget_lanes_after; looks at most once in that time. I/O thread.
  void ForgetIdleLanes() {
    auto now = std::chrono::steady_clock::now();
    if (now - lanes_swept < forget_lanes_after) return;
    lanes_swept = now;
    std::erase_if(status_lanes, [&](const auto& kv) {
      const StatusLane& lane = kv.second;
      return !lane.busy && !lane.next && now - lane.idle_since >= forget_lanes_after;
    });
  }

  void Report(v1::Entry e) {
    if (!stopped) results(std::move(e));
  }
  // Runs `start` (which begins one write) when a slot is free. On the I/O thread.
  void Enqueue(std::function<void()> start) {
    waiting.push_back(std::move(start));
    Pump();
  }
  void Done() {
    --in_flight;
    Pump();
  }
  void Pump() {
    while (in_flight < kMaxInFlight && !waiting.empty()) {
      ++in_flight;
      auto start = std::move(waiting.front());
      waiting.pop_front();
      start();
    }
  }
  static constexpr int kMaxInFlight = 64;
};

namespace {

v1::Entry Result(const v1::Entry& action, v1::ActionKind kind, const std::string& target,
                 const ApiStatus& status) {
  // The message may quote what came back (an exec plugin's stderr, a body that is not JSON): it
  // is journaled as UTF-8, as all text is.
  v1::Entry e = ActionResultOf(action, kind, target, status.ok(), status.http_code(),
                               ToUtf8(status.reason()));
  e.mutable_action_result()->set_message(ToUtf8(status.message()));
  return e;
}

ApiStatus NotLeading() {
  return ApiStatus::NoResponse("NotLeader", "not sent: this replica is not sure it leads");
}

// The writes as coroutines. They take everything by value: a coroutine outlives the call that
// starts it (a lambda's captures would not).
asio::awaitable<ApiResult<Created>> CreatePodCall(std::shared_ptr<Client> client,
                                                  std::function<bool()> may_write,
                                                  v1::DropPodSpec pod) {
  if (!may_write()) co_return NotLeading();
  // A repeat after a crash finds the pod it made: the name is deterministic.
  co_return co_await CreateObject(*client, kPods, pod.namespace_(), PodManifest(pod),
                                  /*already_exists_ok=*/true);
}

asio::awaitable<ApiStatus> DeletePodCall(std::shared_ptr<Client> client,
                                         std::function<bool()> may_write, v1::DeletePod d) {
  if (!may_write()) co_return NotLeading();
  co_return co_await DeletePod(*client, d.namespace_(), d.name(), d.uid());
}

asio::awaitable<ApiResult<boost::json::object>> StatusCall(std::shared_ptr<Client> client,
                                                           std::function<bool()> may_write,
                                                           v1::PatchStatus p) {
  StatusWrite write;
  write.may_write = may_write;  // asked again before a retry after a conflict
  write.uid = p.uid();
  write.resource_version = p.resource_version();
  write.status = StatusManifest(p.status());
  co_return co_await UpdateStatus(*client, kCachedImages, "", p.cached_image(), std::move(write));
}

}  // namespace

ApiExecutor::ApiExecutor(std::shared_ptr<Client> client, std::shared_ptr<EventRecorder> events,
                         EntrySink results, std::function<bool()> may_write,
                         std::chrono::steady_clock::duration forget_lanes_after)
    : shared_(std::make_shared<Shared>()) {
  shared_->forget_lanes_after = forget_lanes_after;
  shared_->client = std::move(client);
  shared_->events = std::move(events);
  shared_->results = std::move(results);
  shared_->may_write = std::move(may_write);
}

ApiExecutor::~ApiExecutor() {
  Stop();
}

void ApiExecutor::Stop() {
  if (shared_->stopped.exchange(true)) return;
  asio::post(shared_->client->executor(), [s = shared_] {
    for (auto& [key, timer] : s->timers)
      timer->cancel();
    s->timers.clear();
  });
}

bool ApiExecutor::Drain(std::chrono::milliseconds within) {
  auto deadline = std::chrono::steady_clock::now() + within;
  while (true) {
    std::promise<bool> idle;
    asio::post(shared_->client->executor(),
               [s = shared_, &idle] { idle.set_value(s->in_flight == 0 && s->waiting.empty()); });
    if (idle.get_future().get()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

namespace {

// Starts a write on the I/O thread when one of the executor's slots is free.
template <typename S, typename F>
void Write(const S& s, F start) {
  asio::post(s->client->executor(),
             [s, start = std::move(start)]() mutable { s->Enqueue(std::move(start)); });
}

// Sends a status write, or holds it until the CachedImage's write in flight ends; a held one is
// replaced by a newer one, and its result says so. On the I/O thread.
template <typename S>
void WriteStatus(const S& s, v1::Entry entry, v1::PatchStatus p) {
  s->ForgetIdleLanes();
  auto& lane = s->status_lanes[p.cached_image()];
  if (lane.busy) {
    if (lane.next) {
      v1::Entry superseded =
          Result(lane.next->first, v1::ACTION_PATCH_STATUS, p.cached_image(), ApiStatus());
      superseded.mutable_action_result()->set_reason("Superseded");
      superseded.mutable_action_result()->set_message(
          "not sent: a newer status for the CachedImage (entry " + std::to_string(entry.seq()) +
          ") replaced it before it went out");
      s->Report(std::move(superseded));
    }
    lane.next.emplace(std::move(entry), std::move(p));
    return;
  }
  lane.busy = true;
  if (!lane.written_to.empty() && p.resource_version() == lane.written_from) {
    p.set_resource_version(lane.written_to);
  }
  s->Enqueue([s, entry = std::move(entry), p = std::move(p)] {
    Spawn(s->client->executor(), StatusCall(s->client, s->may_write, p),
          [s, entry, p](ApiResult<boost::json::object> r) {
            auto& lane = s->status_lanes[p.cached_image()];
            lane.busy = false;
            if (r.ok()) {
              lane.written_from = p.resource_version();
              lane.written_to = std::string(ResourceVersionOf(*r));
            }
            s->Report(Result(entry, v1::ACTION_PATCH_STATUS, p.cached_image(), r.status()));
            lane.idle_since = std::chrono::steady_clock::now();
            if (lane.next) {  // queued before this slot is given back, so a drain waits for it
              auto [next_entry, next_p] = std::move(*lane.next);
              lane.next.reset();
              WriteStatus(s, std::move(next_entry), std::move(next_p));
            }
            s->Done();
          });
  });
}

}  // namespace

void ApiExecutor::Execute(const v1::Entry& entry) {
  const std::shared_ptr<Shared>& s = shared_;
  if (s->stopped) return;
  const v1::ActionIssued& a = entry.action();
  Client& client = *s->client;
  switch (a.action_case()) {
    case v1::ActionIssued::kCreatePod: {
      const v1::DropPodSpec& pod = a.create_pod().pod();
      Write(s, [s, entry, pod] {
        Spawn(s->client->executor(), CreatePodCall(s->client, s->may_write, pod),
              [s, entry, pod](ApiResult<Created> r) {
                v1::Entry result = Result(entry, v1::ACTION_CREATE_POD, pod.name(), r.status());
                if (r.ok()) {
                  result.mutable_action_result()->set_uid(r->uid);
                  if (r->already_existed) {
                    result.mutable_action_result()->set_reason("AlreadyExists");
                  }
                }
                s->Report(std::move(result));
                s->Done();
              });
      });
      return;
    }
    case v1::ActionIssued::kDeletePod: {
      const v1::DeletePod& d = a.delete_pod();
      Write(s, [s, entry, d] {
        Spawn(s->client->executor(), DeletePodCall(s->client, s->may_write, d),
              [s, entry, d](ApiStatus status) {
                s->Report(Result(entry, v1::ACTION_DELETE_POD, d.name(), status));
                s->Done();
              });
      });
      return;
    }
    case v1::ActionIssued::kPatchStatus: {
      asio::post(client.executor(),
                 [s, entry] { WriteStatus(s, entry, entry.action().patch_status()); });
      return;
    }
    case v1::ActionIssued::kEmitEvent: {
      const v1::EmitEvent& ev = a.emit_event();
      if (!s->may_write()) return;
      // Events are for people: the recorder aggregates and rate-limits them, and their fate does
      // not change what drop decides, so no result goes back into the journal.
      const Resource* about = ResourceFor(ev.kind());
      if (about == nullptr) return;
      s->events->Record({about->ApiVersion(), std::string(about->kind), ev.name(), "", ev.uid()},
                        ev.type(), ev.reason(), ev.message());
      return;
    }
    case v1::ActionIssued::kRequeue: {
      const v1::RequeueAt& r = a.requeue();
      asio::post(client.executor(), [s, r] {
        if (s->stopped) return;
        auto& timer = s->timers[KeyString(r.key())];
        if (timer == nullptr) timer = std::make_unique<asio::steady_timer>(s->client->executor());
        int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
        // A timer that fires a little early is harmless: the reconcile sees it is not yet time
        // and asks again.
        timer->expires_after(std::chrono::milliseconds(std::max<int64_t>(0, r.at_ms() - now)));
        timer->async_wait([s, key = r.key()](const boost::system::error_code& error) {
          if (error) return;                // replaced or cancelled
          s->timers.erase(KeyString(key));  // a key that is never requeued again leaves nothing
          v1::Entry e;
          *e.mutable_timer()->mutable_key() = key;
          s->Report(std::move(e));
        });
      });
      return;
    }
    case v1::ActionIssued::ACTION_NOT_SET:
      return;
  }
}

}  // namespace drop::k8s
