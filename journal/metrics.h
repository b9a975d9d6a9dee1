// Counters and a latency histogram the journal keeps about itself; the operator exports them as
// drop_journal_*. Lock-free: the loop thread updates, the metrics endpoint reads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace drop::journal {

class LatencyHistogram {
 public:
  // Upper bounds in seconds: an fsync on a good SSD is ~0.1-2 ms, on a busy disk tens of ms.
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  void Observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i])
      ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(seconds * 1e9), std::memory_order_relaxed);
  }
  // Count of observations in bucket i (the last bucket is above every bound).
  uint64_t count(size_t i) const { return counts_[i].load(std::memory_order_relaxed); }
  double sum_seconds() const { return static_cast<double>(sum_ns_.load()) / 1e9; }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

struct JournalMetrics {
  std::atomic<uint64_t> entries_appended{0};
  std::atomic<uint64_t> bytes_appended{0};
  std::atomic<uint64_t> batches_committed{0};  // synced writes (a group commit counts once)
  std::atomic<uint64_t> snapshots_written{0};
  std::atomic<uint64_t> entries_dropped{0};  // by retention
  std::atomic<uint64_t> last_seq{0};
  LatencyHistogram commit_seconds;
};

}  // namespace drop::journal
