// drop-replay simulate: the recorded rollout under another policy (--set maxConcurrentNodes=20),
// through Simulate() (simulation.h), with each node's recorded pulls; prints the projected
// completion of every CachedImage beside the recorded one.
#pragma once

#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "replay/document.h"
#include "replay/reader.h"

namespace drop::replay {

struct SimulateOptions {
  std::vector<std::string> sets;      // "maxConcurrentNodes=20", "minDelayBetweenPulls=0s", ...
  std::vector<std::string> policies;  // the PullPolicies the sets change; empty: all of them
  int full_speed_pulls = -1;          // bandwidth model; -1: inferred from the recording
  std::string record_dir;             // write the simulated journal there (a new journal)
  Format format = Format::kTable;
};

struct Projection {
  std::string image, policy;
  int64_t since_ms = 0;
  int64_t recorded_ms = 0;   // completion (Ready) time, 0 if never
  int64_t simulated_ms = 0;  // 0 if never
  // When it first became Ready, where a node that joined later sent it back to Pulling: a policy
  // that speeds the rollout up shows here even when the late node sets the completion.
  int64_t recorded_first_ms = 0, simulated_first_ms = 0;
  // Ready where the journal begins (retention dropped what came before) and never sent back to
  // Pulling since: there is no completion to compare, and it did not fail to complete.
  bool recorded_ready_throughout = false, simulated_ready_throughout = false;
};

struct SimulateReport {
  std::vector<Projection> images;
  int full_speed_pulls = 0;
  bool inferred_bandwidth = false;
  std::string changes;  // what --set changed, in words
  uint64_t pulls = 0, entries = 0;
  int peak_active = 0;
  int unrecorded = 0;  // pulls with no recorded counterpart on their node
  double wall_seconds = 0;
  int64_t recorded_end_ms = 0;  // the journal's last entry
  int64_t end_ms = 0;           // where the simulation stopped
};

Result<SimulateReport> RunSimulate(const Reader& reader, const SimulateOptions& options);
void PrintSimulate(const SimulateReport& report, Format format, std::ostream& out);

}  // namespace drop::replay
