// Capped, jittered exponential backoff between attempts (client-go's reflector uses 800 ms
// doubling to 30 s with full jitter): the n-th wait is min(max, initial * factor^n) stretched by a
// random fraction of up to `jitter` of itself, and never longer than max.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace drop::k8s {

struct BackoffPolicy {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds max{30000};
  double factor = 2.0;
  double jitter = 1.0;
};

// A seed for a Backoff: from a per-thread generator that std::random_device seeds once (a
// random_device for every Backoff cost the client a system call on every request).
uint64_t FreshSeed();

class Backoff {
 public:
  explicit Backoff(BackoffPolicy policy, uint64_t seed = FreshSeed());

  std::chrono::milliseconds Next();
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  BackoffPolicy policy_;
  int attempt_ = 0;
  std::mt19937_64 random_;
};

}  // namespace drop::k8s
