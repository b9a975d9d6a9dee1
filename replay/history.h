// One pass over a journal that gathers what `explain`, `timeline` and `simulate` tell stories
// from: every drop pod's life (the START that made it, the input that triggered that pacing pass,
// its outcome), every pacing pass of every policy (the verdict that ended it and its inputs), and
// since when each (CachedImage, node) pair was targeted: the start of a node's wait.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "replay/reader.h"

namespace drop::replay {

// Names interned to small indices, in order of first appearance.
class Names {
 public:
  int Id(const std::string& name);
  int Find(const std::string& name) const;  // -1 when absent
  const std::string& operator[](int id) const { return names_[id]; }
  int size() const { return static_cast<int>(names_.size()); }
  const std::vector<std::string>& all() const { return names_; }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, int> ids_;
};

// A pod observed through the watch, relative to its creation (for simulate's kubelet).
struct PodReport {
  int64_t offset_ms;
  v1::Pod pod;
  bool deleted;
};

struct PullRecord {
  int image = -1, node = -1, policy = -1;  // policy: the one it started under
  std::string pod;
  uint64_t start_seq = 0;  // the CreatePod entry
  int64_t start_ms = 0;
  uint64_t trigger_seq = 0;  // the input that triggered the pacing pass that started it
  int64_t wait_from_ms = 0;  // since when the node was waiting for this pull (see Wants)
  int64_t end_ms = 0;        // when drop decided the outcome; 0: unfinished at the end
  uint64_t end_seq = 0;      // the Outcome entry
  v1::Outcome outcome = v1::OUTCOME_UNKNOWN;
  std::string reason, message;
  int64_t duration_ms = 0;
  std::vector<PodReport> reports;  // only with HistoryOptions::pod_reports
};

// One pacing pass of a policy: a reconcile of the policy key that decided something.
struct PassRecord {
  int policy = -1;
  uint64_t reconcile_id = 0, trigger_seq = 0;
  // The pass's last entry: at a point before it, the pass has not decided all it decides.
  uint64_t last_seq = 0;
  int64_t time_ms = 0;
  int32_t active_before = 0, active_after = 0, limit = 0;
  int starts = 0;
  // The decision that ended the pass for every image still in line: WAIT_CONCURRENCY or
  // WAIT_MIN_DELAY (naming the image that was next), or VERDICT_UNKNOWN when every image that
  // could start did.
  v1::Verdict blocking = v1::VERDICT_UNKNOWN;
  uint64_t blocking_seq = 0;
  int next_image = -1;
  int64_t not_before_ms = 0, last_creation_ms = 0, min_delay_ms = 0;
  // Images held back by their own backoff or with no eligible node in this pass. Such a wait is
  // recorded once: the passes after it that decide the same leave it out.
  struct Held {
    int image;
    v1::Verdict verdict;
    uint64_t seq;
    int64_t not_before_ms;  // a backoff's end; 0: none set (rule 4's hold, NoEligibleNode)
  };
  std::vector<Held> held;
  struct Started {
    int image, node;
    uint64_t seq;  // the START decision
  };
  std::vector<Started> started;  // in order
  // The pass found the policy's spec invalid (its Warning Event): nothing under it starts until a
  // later pass.
  bool invalid_spec = false;
};

// What a CachedImage's life follows of its spec.image: the content the reference names on a node
// (ImageRef::MatchKey; "" when it does not parse). A new key starts a new life.
std::string ImageMatchKey(const std::string& image);

struct ImageLife {
  int64_t since_ms = 0;        // created, or its image last changed
  int64_t ready_ms = 0;        // last became Ready (status written with phase Ready); 0: never
  int64_t first_ready_ms = 0;  // first became Ready since since_ms; 0: never
  int64_t generation = 0;
  std::string image, policy, phase;
  bool deleted = false;
};

struct HistoryOptions {
  std::string only_image;                  // keep the pulls and wants of this CachedImage only
  std::optional<std::string> only_policy;  // keep the pacing passes of this policy only
  bool pod_reports = false;                // keep pods' watch reports (memory: a few per pull)
  bool passes = true;
  // Called for every entry after the history has taken it in, with the state-free view.
  std::function<void(const v1::Entry&)> each;
};

// A change in the active pulls a policy counts against its limit (core/pacing.h IsActive: drop
// pods pending or running, not waiting on an image pull error, not failed to create): a pod that
// is created, stops or starts pulling again, or moves with its CachedImage.
struct ActiveChange {
  uint64_t seq;
  int64_t at_ms;
  int policy;
  int delta;
};

// A node that wants a CachedImage at the end of the range and has no pull of it started: targeted,
// not holding the image, no drop pod of it in flight.
struct WaitingRecord {
  int image = -1, node = -1, policy = -1;
  int64_t since_ms = 0;  // since when it wants it (see Wants), or its last pull failed
};

struct History {
  Names images, nodes, policies;
  std::vector<PullRecord> pulls;  // in start order
  std::vector<WaitingRecord> waiting;
  std::vector<PassRecord> passes;
  std::vector<int> active_from;  // by policy id: active at `from`
  // By policy id, at `from`: its maxConcurrentNodes (-1: not known then), and WAIT_CONCURRENCY
  // when it was at that limit. The images held by their own state then (ImageRecord.last_wait).
  std::vector<int64_t> limit_from;
  std::vector<v1::Verdict> blocking_from;
  std::vector<PassRecord::Held> held_from;
  std::vector<ActiveChange> active_changes;  // in journal order (with HistoryOptions::passes)
  std::vector<ImageLife> lives;              // by image id
  int64_t from_ms = 0, to_ms = 0;
  uint64_t from_seq = 0, to_seq = 0;

  // Gathers entries (from, to] starting from the state after `from` (for who was targeted then).
  static Result<History> Scan(const Reader& reader, const Point& from, uint64_t to,
                              const HistoryOptions& options);
};

}  // namespace drop::replay
