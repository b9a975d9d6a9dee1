// The client-side rate limit: a token bucket of `burst` tokens refilled at `qps` a second, as
// client-go's (flowcontrol.NewTokenBucketRateLimiter). A request takes a token, or reserves the
// next one and waits for it, so waiters are served in order.
#pragma once

#include <chrono>

namespace drop::k8s {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // qps <= 0: no limit.
  RateLimiter(double qps, int burst);

  // Takes a token at `now`: how long the caller must wait before using it (zero when one is
  // available).
  Clock::duration Reserve(Clock::time_point now);
  // Takes a token at `now` only if one is there (client-go's TryAccept).
  bool TryTake(Clock::time_point now);

 private:
  void Refill(Clock::time_point now);

  double qps_;
  double burst_;
  double tokens_;  // may go negative: tokens reserved by waiting callers
  Clock::time_point last_;
  bool started_ = false;
};

}  // namespace drop::k8s
