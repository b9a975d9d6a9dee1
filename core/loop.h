// The event loop (DESIGN.md section 4): one thread owns the state; I/O threads only Submit inputs.
// For each batch of inputs: stamp, append, fold and reconcile (Step), append the decisions (in
// their JournalForm), commit (one synced write), and only then hand the actions to the executor.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "core/executor.h"
#include "core/index.h"
#include "core/journal_writer.h"
#include "core/schema.h"
#include "core/status.h"

namespace drop {

class Loop {
 public:
  struct Options {
    size_t max_batch = 512;  // inputs folded into one commit (group commit)
  };
  // Called on the loop thread after each committed batch with its entries in order.
  using CommitHook = std::function<void(std::span<const v1::Entry>, const v1::State&)>;

  // `state` is where the journal left off (snapshot + tail); the loop owns it from here on.
  Loop(v1::State state, JournalWriter* journal, Executor* executor, Clock* clock, Options options);
  Loop(v1::State state, JournalWriter* journal, Executor* executor, Clock* clock)
      : Loop(std::move(state), journal, executor, clock, Options{}) {}

  // Queues an input (its seq and time are set by the loop). Safe from any thread.
  void Submit(v1::Entry input);

  // Processes the queued inputs as one batch, waiting up to `wait` for the first. Returns the
  // number of inputs processed. A journal error stops the loop for good: nothing of the failed
  // batch is acted on, and the process must restart from the journal.
  Result<size_t> RunOnce(std::chrono::milliseconds wait);

  // Runs batches until Stop(); the batch in hand is committed and executed before it returns.
  Status Run();
  void Stop();

  void OnCommitted(CommitHook hook) { hook_ = std::move(hook); }

  // Loop thread only (or when the loop is not running).
  const v1::State& state() const { return state_; }
  size_t queued() const;

 private:
  v1::State state_;
  Index index_;  // of state_: a reconcile at 5,000 nodes costs what changed
  JournalWriter* journal_;
  Executor* executor_;
  Clock* clock_;
  Options options_;
  CommitHook hook_;
  Status failed_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Entry> queue_;
  bool stopping_ = false;
};

}  // namespace drop
