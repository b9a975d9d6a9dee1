// The agenda of a discrete-event simulation: what happens when, run in time order and, at the
// same time, in the order it was put on. drop-replay's simulated cluster and the tests' World
// both drive the core with one.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

namespace drop::replay {

class Agenda {
 public:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  void At(int64_t at, std::function<void()> run) { queue_.push({at, order_++, std::move(run)}); }
  bool empty() const { return queue_.empty(); }
  // When the earliest happening is due; kNever when there is none.
  int64_t next() const { return queue_.empty() ? kNever : queue_.top().at; }
  // Takes the earliest happening off: its time and what it runs.
  std::pair<int64_t, std::function<void()>> Pop() {
    Happening h = queue_.top();
    queue_.pop();
    return {h.at, std::move(h.run)};
  }

 private:
  struct Happening {
    int64_t at;
    uint64_t order;
    std::function<void()> run;
    bool operator>(const Happening& o) const { return at != o.at ? at > o.at : order > o.order; }
  };
  std::priority_queue<Happening, std::vector<Happening>, std::greater<>> queue_;
  uint64_t order_ = 0;
};

}  // namespace drop::replay
