#include "k8s/backoff.h"

#include <algorithm>
#include <cmath>

namespace drop::k8s {

uint64_t FreshSeed() {
  thread_local std::mt19937_64 seeds{std::random_device{}()};
  return seeds();
}

Backoff::Backoff(BackoffPolicy policy, uint64_t seed) : policy_(policy), random_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  double base = static_cast<double>(policy_.initial.count()) *
                std::pow(policy_.factor, std::min(attempt_, 62));
  double max = static_cast<double>(policy_.max.count());
  base = std::min(base, max);
  ++attempt_;
  std::uniform_real_distribution<double> fraction(0.0, policy_.jitter);
  double wait = std::min(max, base * (1.0 + fraction(random_)));
  return std::chrono::milliseconds(static_cast<int64_t>(wait));
}

}  // namespace drop::k8s
