// The log lines committed batches of journal entries make: every decision with its controller,
// its reconcileID (the sequence number drop-replay takes) and its object; actions at info,
// pacing and reconcile bookkeeping at debug; failed API writes at warn, with the reconcile that
// issued them.
#pragma once

#include <cstdint>
#include <map>
#include <span>

#include "core/schema.h"
#include "k8s/log.h"

namespace drop::k8s {

class BatchLog {
 public:
  explicit BatchLog(Logger& log) : log_(log) {}

  // Logs a batch; batches come in the order they were committed.
  void operator()(std::span<const v1::Entry> batch);

 private:
  // Who issued an action whose result has not come back: a failed write is logged with them, as
  // the action was. Results come in a later batch; a bounded number is remembered.
  struct Issuer {
    uint64_t reconcile_id = 0;
    v1::Key key;
  };
  static constexpr size_t kMaxPending = 100000;

  Logger& log_;
  std::map<uint64_t, Issuer> pending_;  // by the action's seq
};

}  // namespace drop::k8s
