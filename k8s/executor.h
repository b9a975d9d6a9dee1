// The operator's hands: performs each action the core decided, once it is durable in the
// journal, against the API server, and reports the outcome back into the loop as an
// ActionResult input. Requeues become timers that feed TimerFired inputs. Everything runs on the
// client's I/O thread; Execute never blocks the loop.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/executor.h"
#include "k8s/client.h"
#include "k8s/event_recorder.h"
#include "k8s/informer.h"

namespace drop::k8s {

class ApiExecutor : public Executor {
 public:
  // `results` takes the ActionResult and TimerFired inputs (the loop's Submit). `may_write` is
  // asked right before every write: a replica that is no longer sure it leads writes nothing.
  // What a CachedImage's status writes leave behind (the resourceVersion its last one produced)
  // is kept for `forget_lanes_after` once they end.
  ApiExecutor(std::shared_ptr<Client> client, std::shared_ptr<EventRecorder> events,
              EntrySink results, std::function<bool()> may_write,
              std::chrono::steady_clock::duration forget_lanes_after = std::chrono::minutes(2));
  ~ApiExecutor() override;

  void Execute(const v1::Entry& action) override;

  // Cancels the timers and takes no more actions; writes already handed over still go out (each
  // asks `may_write` first) but their results are not delivered.
  void Stop();
  // Waits until no write is waiting or in flight, or `within` has passed; true when none is left.
  bool Drain(std::chrono::milliseconds within);

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace drop::k8s
