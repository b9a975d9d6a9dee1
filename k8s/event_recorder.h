// Kubernetes Events (core/v1) about drop's objects, aggregated as client-go's recorder does
// (tools/record/events_cache.go), so that a flapping pull does not flood the API server:
//  - an Event that repeats (same object, type, reason and message) is not created again: the
//    existing one's count and lastTimestamp are patched;
//  - when one object gets more than 10 Events of the same type and reason with different messages
//    within 10 minutes, the rest are folded into one "(combined from similar events): ..." Event;
//  - each object may emit 25 Events at once and then one every 5 minutes; the rest are dropped.
// Writes go out one at a time, in order, from the client's I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "k8s/api_status.h"
#include "k8s/client.h"
#include "k8s/rate_limiter.h"

namespace drop::k8s {

struct ObjectReference {
  std::string api_version;  // "drop.io/v1alpha1"
  std::string kind;         // "CachedImage"
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects: their Events go to "default"
  std::string uid;
};

struct EventRecorderOptions {
  std::string component = "drop-controller-manager";  // source.component, reportingComponent
  std::string instance;  // source.host, reportingInstance: the replica's identity
  // client-go's defaults.
  size_t cache_size = 4096;
  size_t aggregate_max_events = 10;
  std::chrono::milliseconds aggregate_interval{std::chrono::minutes(10)};
  double spam_qps = 1.0 / 300;
  int spam_burst = 25;
  // Events waiting to be written while the API server is slow; beyond it the oldest are dropped
  // (client-go's broadcaster drops too, at 1000).
  size_t max_queued = 1000;
  // The wall clock in milliseconds since the epoch (Event timestamps). Tests may move it.
  std::function<int64_t()> now_ms;
};

// What became of one recorded Event.
enum class EventOutcome { kCreated, kPatched, kDropped, kFailed };

class EventRecorder {
 public:
  using Done = std::function<void(EventOutcome, const ApiStatus&)>;

  EventRecorder(std::shared_ptr<Client> client, EventRecorderOptions options);

  // Queues an Event (type Normal or Warning). Any thread; never blocks. `done` is called on the
  // I/O thread once it is written, dropped by the spam filter, or failed.
  void Record(ObjectReference object, std::string type, std::string reason, std::string message,
              Done done = {});

  struct State;  // shared with the writer coroutine (event_recorder.cc)

 private:
  std::shared_ptr<State> state_;
};

}  // namespace drop::k8s
