#include "k8s/informer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "core/drop_pod.h"
#include "k8s/io_thread.h"
#include "k8s/json_util.h"
#include "k8s/projection.h"

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// A watch that lived this long, or delivered an event, was healthy: the backoff starts over.
constexpr std::chrono::seconds kHealthyWatch{30};
// A watch the server ends cleanly this soon without an event is treated as broken (client-go's
// "very short watch"), so a server that ends every watch at once is not hammered.
constexpr std::chrono::seconds kVeryShortWatch{1};

v1::EventType EntryType(WatchEventType t) {
  switch (t) {
    case WatchEventType::kAdded:
      return v1::ADDED;
    case WatchEventType::kModified:
      return v1::MODIFIED;
    case WatchEventType::kDeleted:
      return v1::DELETED;
    default:
      return v1::EVENT_TYPE_UNKNOWN;
  }
}

std::string KindName(v1::ObjectKind kind) {
  const Resource* r = ResourceFor(kind);
  return r != nullptr ? std::string(r->plural) : "unknown";
}

}  // namespace

struct Informer::State {
  std::shared_ptr<Client> client;
  InformerOptions options;
  EntrySink sink;
  Resource resource;

  // I/O thread only.
  bool stopped = false;
  WatchStream* watch = nullptr;               // the open watch, to break off on Stop()
  std::shared_ptr<asio::steady_timer> timer;  // the backoff in progress
  std::mt19937_64 random{std::random_device{}()};

  mutable std::mutex mu;  // guards stats
  InformerStats stats;

  // A list or watch that failed, and the wait before the next try: counted, kept, told.
  std::chrono::milliseconds Failed(std::string_view call, const std::string& error,
                                   Backoff* backoff) {
    {
      std::lock_guard lock(mu);
      stats.broken += call == "watch";
      stats.last_error = error;
    }
    std::chrono::milliseconds retry_in = backoff->Next();
    if (options.on_error) options.on_error(call, error, retry_in);
    return retry_in;
  }
  void Emit(v1::Entry entry) {
    if (!stopped) sink(std::move(entry));
  }
};

namespace {

using State = Informer::State;

asio::awaitable<void> Wait(std::shared_ptr<State> s, std::chrono::milliseconds d) {
  if (s->stopped) co_return;
  s->timer = std::make_shared<asio::steady_timer>(s->client->executor(), d);
  auto timer = s->timer;
  co_await timer->async_wait(kUse);
  s->timer.reset();
}

// Lists every object (page by page), projects them, and delivers the relist. Returns the
// list's resourceVersion.
asio::awaitable<ApiResult<std::string>> List(std::shared_ptr<State> s, std::string reason) {
  ListOptions lo;
  lo.label_selector = s->options.label_selector;
  lo.field_selector = s->options.field_selector;
  lo.limit = s->options.page_size;
  lo.selection = &ProjectedListFields(s->options.kind);
  std::vector<v1::WatchEvent> objects;
  std::string version;
  while (true) {
    ApiResult<ListPage> page = co_await s->client->List(s->resource, s->options.namespace_, lo);
    if (s->stopped) co_return ApiStatus::NoResponse(kReasonConnectionError, "stopped");
    if (!page.ok()) {
      if (page.status().IsGone() && !lo.continue_token.empty()) {
        // The snapshot the pages came from was compacted away: start over, in one piece.
        objects.clear();
        lo.continue_token.clear();
        lo.limit = 0;
        continue;
      }
      co_return page.status();
    }
    for (const json::value& item : page->items) {
      const json::object* o = item.if_object();
      if (o == nullptr) continue;
      v1::WatchEvent& e = objects.emplace_back();
      e.set_type(v1::LISTED);
      e.set_resource_version(std::string(ResourceVersionOf(*o)));
      ProjectInto(s->options.kind, *o, &e);
    }
    version = page->resource_version;
    if (version.empty()) {
      co_return ApiStatus::NoResponse(
          "InvalidResponse", "list " + KindName(s->options.kind) +
                                 ": the server's list has no metadata.resourceVersion to watch "
                                 "from; is the server a Kubernetes API server?");
    }
    if (page->continue_token.empty()) break;
    lo.continue_token = std::move(page->continue_token);
  }
  // Delivered in one go, once the whole list is in: the core never sees half a relist.
  v1::Entry begin;
  begin.mutable_relist_begin()->set_kind(s->options.kind);
  begin.mutable_relist_begin()->set_reason(reason);
  s->Emit(std::move(begin));
  for (v1::WatchEvent& e : objects) {
    v1::Entry entry;
    *entry.mutable_watch() = std::move(e);
    s->Emit(std::move(entry));
  }
  v1::Entry end;
  end.mutable_relist_end()->set_kind(s->options.kind);
  end.mutable_relist_end()->set_resource_version(version);
  s->Emit(std::move(end));
  {
    std::lock_guard lock(s->mu);
    ++s->stats.lists;
    s->stats.synced = true;
    s->stats.resource_version = version;
  }
  co_return version;
}

// Watches from *version until the watch cannot go on from there; returns why a relist is needed
// ("" when stopped).
asio::awaitable<std::string> WatchFrom(std::shared_ptr<State> s, std::string* version,
                                       Backoff* backoff) {
  const InformerOptions& o = s->options;
  while (!s->stopped) {
    WatchOptions wo;
    wo.label_selector = o.label_selector;
    wo.field_selector = o.field_selector;
    wo.resource_version = *version;
    wo.selection = &ProjectedWatchEventFields(o.kind);
    if (o.min_watch_timeout.count() > 0) {
      std::uniform_int_distribution<int64_t> spread(o.min_watch_timeout.count(),
                                                    2 * o.min_watch_timeout.count() - 1);
      wo.timeout_seconds = spread(s->random);
      // The server ends the watch by then; silence well past it means the connection is gone.
      wo.idle_timeout = std::chrono::seconds(wo.timeout_seconds + 60);
    }
    ApiResult<std::unique_ptr<WatchStream>> opened =
        co_await s->client->Watch(s->resource, o.namespace_, wo);
    if (s->stopped) co_return "";
    if (!opened.ok()) {
      if (opened.status().IsGone()) co_return "410 Gone: " + opened.status().message();
      co_await Wait(s, s->Failed("watch", opened.status().message(), backoff));
      continue;
    }
    {
      std::lock_guard lock(s->mu);
      ++s->stats.watches;
    }
    std::unique_ptr<WatchStream> watch = std::move(*opened);
    s->watch = watch.get();
    const auto started = std::chrono::steady_clock::now();
    uint64_t delivered = 0;
    std::string failure;  // why the watch ended badly; "" for a clean end
    std::string relist;   // why a relist is needed
    while (true) {
      ApiResult<std::optional<WatchEvent>> next = co_await watch->Next();
      if (s->stopped) break;
      if (!next.ok()) {
        failure = next.status().message();
        break;
      }
      if (!next->has_value()) {
        if (delivered == 0 && std::chrono::steady_clock::now() - started < kVeryShortWatch) {
          failure = "very short watch: the server ended it within a second without an event";
        }
        break;
      }
      const WatchEvent& e = **next;
      if (e.type == WatchEventType::kBookmark) {
        // A version-less bookmark would restart the watch "from now", skipping what happened in
        // between: keep the last version instead.
        if (std::string_view rv = ResourceVersionOf(*e.object); !rv.empty()) *version = rv;
        continue;
      }
      if (e.type == WatchEventType::kError) {
        // A metav1.Status in the stream: 410 means the version is gone (relist), anything else
        // that this watch cannot go on.
        int64_t code = GetInt(e.object, "code");
        std::string message = std::string(GetString(*e.object, "reason")) + ": " +
                              std::string(GetString(*e.object, "message"));
        if (code == 410) {
          relist = "410 Gone: watch " + KindName(o.kind) + ": " + message;
        } else {
          failure =
              "watch " + KindName(o.kind) + ": error event " + std::to_string(code) + " " + message;
        }
        break;
      }
      v1::Entry entry;
      v1::WatchEvent* w = entry.mutable_watch();
      w->set_type(EntryType(e.type));
      std::string_view rv = ResourceVersionOf(*e.object);
      w->set_resource_version(std::string(rv));
      ProjectInto(o.kind, *e.object, w);
      if (!rv.empty()) *version = std::string(rv);
      s->Emit(std::move(entry));
      ++delivered;
      std::lock_guard lock(s->mu);
      ++s->stats.events;
      s->stats.resource_version = *version;
    }
    s->watch = nullptr;
    watch.reset();
    if (s->stopped) co_return "";
    if (!relist.empty()) co_return relist;
    if (delivered > 0 || std::chrono::steady_clock::now() - started >= kHealthyWatch) {
      backoff->Reset();
    }
    if (!failure.empty()) {
      {
        std::lock_guard lock(s->mu);
        s->stats.resource_version = *version;
      }
      co_await Wait(s, s->Failed("watch", failure, backoff));
    }
  }
  co_return "";
}

asio::awaitable<void> Run(std::shared_ptr<State> s) {
  Backoff backoff(s->options.backoff);
  std::string reason = "start";
  while (!s->stopped) {
    ApiResult<std::string> listed = co_await List(s, reason);
    if (s->stopped) break;
    if (!listed.ok()) {
      co_await Wait(s, s->Failed("list", listed.status().message(), &backoff));
      continue;
    }
    std::string version = std::move(*listed);
    reason = co_await WatchFrom(s, &version, &backoff);
    if (!reason.empty()) {
      std::lock_guard lock(s->mu);
      ++s->stats.gone;
      s->stats.last_error = reason;
    }
  }
}

}  // namespace

std::vector<InformerOptions> OperatorInformers(const std::string& pod_namespace) {
  std::vector<InformerOptions> out;
  for (v1::ObjectKind kind : {v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY,
                              v1::KIND_DISCOVERY_POLICY, v1::KIND_NODE, v1::KIND_POD}) {
    InformerOptions o;
    o.kind = kind;
    if (kind == v1::KIND_POD) {
      o.namespace_ = pod_namespace;
      o.label_selector = std::string(kManagedByLabel) + "=" + std::string(kManagedByValue);
    }
    out.push_back(std::move(o));
  }
  return out;
}

Informer::Informer(std::shared_ptr<Client> client, InformerOptions options, EntrySink sink)
    : state_(std::make_shared<State>()) {
  state_->client = std::move(client);
  const Resource* r = ResourceFor(options.kind);
  state_->resource = r != nullptr ? *r : Resource{};
  state_->options = std::move(options);
  state_->sink = std::move(sink);
}

Informer::~Informer() {
  Stop();
}

void Informer::Start() {
  if (started_) return;
  started_ = true;
  done_ = Launch(state_->client->executor(), Run(state_));
}

void Informer::Stop() {
  asio::post(state_->client->executor(), [s = state_] {
    s->stopped = true;
    if (s->watch != nullptr) s->watch->Cancel();
    if (s->timer) s->timer->cancel();
  });
}

bool Informer::WaitStopped(std::chrono::milliseconds timeout) {
  if (!started_) return true;
  return done_.wait_for(timeout) == std::future_status::ready;
}

InformerStats Informer::stats() const {
  std::lock_guard lock(state_->mu);
  return state_->stats;
}

const InformerOptions& Informer::options() const {
  return state_->options;
}

}  // namespace drop::k8s
