// An informer keeps the core's view of one kind of object in step with the API server, as
// client-go's reflector does: a paginated list, then a watch from the list's resourceVersion with
// bookmarks. Every object is projected right away (projection.h) and handed to the sink as a
// journal input:
//
//   RelistBegin{kind, reason}, one WatchEvent{LISTED} per object, RelistEnd{kind, version}
//   then WatchEvent{ADDED | MODIFIED | DELETED} as the watch reports them.
//
// A watch that ends or breaks is reopened from the last version seen (a bookmark's included), so
// no event is lost or delivered twice; after a broken one it waits a capped, jittered backoff.
// When the server no longer has that version (410 Gone, after etcd compaction) the informer
// lists again and the core learns of it from the RelistBegin's reason. Entries leave seq and time
// unset: the loop stamps them.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "k8s/backoff.h"
#include "k8s/client.h"

namespace drop::k8s {

using EntrySink = std::function<void(v1::Entry)>;

struct InformerOptions {
  v1::ObjectKind kind = v1::KIND_UNKNOWN;
  std::string namespace_;  // a namespaced kind: this namespace only ("" = all)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  // Each watch asks the server to end it after a random time in [min, 2 min) (client-go's
  // reflector: 5 min), so that the watches of many clients do not end together. 0: ask nothing,
  // the server ends it after its --min-request-timeout (30 min by default) times 1 to 2.
  std::chrono::seconds min_watch_timeout{300};
  BackoffPolicy backoff;  // after a failed list or a broken watch
  // Told of each failed list and each watch that failed to open or broke, as it happens: the call
  // ("list" or "watch"), the error, and how long the informer waits before it tries again. Runs
  // on the I/O thread.
  std::function<void(std::string_view call, const std::string& error,
                     std::chrono::milliseconds retry_in)>
      on_error;
};

// The informers of the operator: CachedImage, PullPolicy, DiscoveryPolicy and Node, all of them,
// and the pods drop made (label app.kubernetes.io/managed-by=drop) in `pod_namespace`.
std::vector<InformerOptions> OperatorInformers(const std::string& pod_namespace = "drop-system");

struct InformerStats {
  uint64_t lists = 0;            // completed (re)lists
  uint64_t gone = 0;             // 410 Gone answers that forced a relist
  uint64_t watches = 0;          // watches opened
  uint64_t broken = 0;           // watches that failed to open or broke
  uint64_t events = 0;           // ADDED, MODIFIED and DELETED delivered
  bool synced = false;           // a list has been delivered
  std::string resource_version;  // the last one seen
  std::string last_error;
};

class Informer {
 public:
  Informer(std::shared_ptr<Client> client, InformerOptions options, EntrySink sink);
  ~Informer();  // stops it
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Starts listing and watching on the client's executor. Any thread, once.
  void Start();
  // Stops it: the sink is not called after the informer has seen the request (on the I/O
  // thread). Any thread.
  void Stop();
  // Waits until the informer's coroutine has ended after Stop(). Not on the I/O thread.
  bool WaitStopped(std::chrono::milliseconds timeout);

  InformerStats stats() const;  // any thread
  const InformerOptions& options() const;

  struct State;  // shared with the coroutine (informer.cc)

 private:
  std::shared_ptr<State> state_;
  std::future<void> done_;
  bool started_ = false;
};

}  // namespace drop::k8s
