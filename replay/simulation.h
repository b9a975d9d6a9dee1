// A discrete-event simulation of a recorded rollout under another pacing policy, run through the
// real core: every input goes through Step, exactly as the operator's loop would take it, and the
// simulated cluster answers the actions the core issues. The API server accepts creates, deletes
// and status writes at once; the kubelet makes each drop pod live the life its recorded
// counterpart on that node lived (the same pull duration and outcome, the same waiting reasons),
// stretched by a bandwidth model when more pulls overlap than the registry served at full speed.
// Cluster changes (nodes, CachedImages, PullPolicies) happen at their recorded times.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

namespace drop::replay {

// How the simulated kubelet treats a drop pod: its reports, relative to its creation.
struct PodLife {
  struct Report {
    int64_t offset_ms;
    v1::PodPhase phase;
    std::string waiting_reason, waiting_message, terminated_reason;
    int32_t exit_code = 0;
  };
  std::vector<Report> reports;  // the last one ends the pull, or it hangs
  // The time its bytes take at full speed (the bandwidth model stretches it); 0: not a transfer.
  int64_t transfer_ms = 0;
};

// Where pod lives come from: the recording (RecordedPulls in simulate.cc) or a model (benchmarks).
class PullSource {
 public:
  virtual ~PullSource() = default;
  // The life of the `attempt`-th pull (0-based) of `image` on `node`.
  virtual PodLife Life(const std::string& image, const std::string& node, int attempt) = 0;
};

struct SimulationOptions {
  // Inputs from outside drop, in recorded order with recorded times: nodes, CachedImages,
  // PullPolicies (already with the policy changes applied), relists, operator starts.
  std::vector<v1::Entry> inputs;
  v1::State start;       // the state the rollout starts from
  int64_t start_ms = 0;  // when
  int64_t until_ms = 0;  // stop at this time even if not done
  // Bandwidth: at most this many pulls move at full speed at once; beyond, they share (processor
  // sharing). 0: no limit.
  int full_speed_pulls = 0;
  // Called with every entry the run journals (inputs and decisions, in journal form).
  std::function<void(const v1::Entry&)> record;
};

struct SimulationResult {
  // Per CachedImage: when it last became Ready (status written with phase Ready), 0 if never.
  std::map<std::string, int64_t> ready_ms;
  std::map<std::string, int64_t> first_ready_ms;    // when it first became Ready
  std::map<std::string, std::string> phase_at_end;  // the phase of its last status write
  int64_t end_ms = 0;                               // the simulated time when the run stopped
  uint64_t entries = 0, inputs = 0, pulls = 0;
  int peak_active = 0;  // most pulls in flight at once
  double wall_seconds = 0;
};

Result<SimulationResult> Simulate(const SimulationOptions& options, PullSource* pulls);

}  // namespace drop::replay
