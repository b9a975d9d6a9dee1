// The seam between the core's loop and the world it acts on: the executor performs an action
// that is already durable in the journal and reports its outcome later as an ActionResult input.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/schema.h"

namespace drop {

// The ActionResult input that reports on `action` (an ActionIssued entry): its seq, the kind and
// target, whether it succeeded, the server's HTTP code and reason, and for a pod the CachedImage
// and node it is for. The API executor adds the server's message.
v1::Entry ActionResultOf(const v1::Entry& action, v1::ActionKind kind, std::string_view target,
                         bool ok, int32_t http_code, std::string_view reason);

class Executor {
 public:
  virtual ~Executor() = default;

  // `action` is an ActionIssued entry (its seq identifies it in the ActionResult). Must not block:
  // the loop thread calls it.
  virtual void Execute(const v1::Entry& action) = 0;
};

// The only clock the process reads; the loop stamps inputs with it. Tests hand in a manual one.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() = 0;  // milliseconds since the Unix epoch
};

}  // namespace drop
