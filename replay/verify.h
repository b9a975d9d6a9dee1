// drop-replay verify: the determinism check (DESIGN.md section 4). Every input is stepped again
// through the core's Step from the state before it, and each decision it yields, in its journal
// form, must equal the recorded one byte for byte. Between two snapshots the work is independent,
// so segments run on several threads; each segment also checks that the snapshot it ends at is
// the fold of the entries before it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "core/schema.h"
#include "core/status.h"
#include "replay/document.h"
#include "replay/reader.h"

namespace drop::replay {

struct VerifyOptions {
  std::string from, to;  // points; empty: the whole journal
  int jobs = 0;          // threads; 0: one per core
  // Recompute by walking every node and pod, as the core does without its Index: slower, and it
  // checks the index the operator decided through as well.
  bool walk = false;
  // Told how far the check has got, every `progress_every` while it runs and once at the end
  // (a long journal at thousands of nodes takes minutes). From a thread of its own.
  std::function<void(uint64_t checked, uint64_t total)> progress;
  std::chrono::milliseconds progress_every{1000};
  // A thread folds its State on an arena, which keeps what the fold erases or replaces until
  // the State moves: at a snapshot, once the arena has grown this much since the State was last
  // laid out, it moves to a fresh one. Memory stays near the State's size plus this.
  size_t arena_growth = size_t{256} << 20;
  // The runs of segments the work starts in, of about equal entries; 0 (or more than `jobs`): one
  // per thread. A thread with no run of its own takes part of another's (tests start fewer runs
  // than threads so).
  int runs = 0;
};

struct Divergence {
  uint64_t seq = 0;  // the first entry that differs (or where a decision is missing)
  v1::Entry input;   // the input whose decisions differ
  std::optional<v1::Entry> recorded;    // the entry in the journal at `seq`
  std::optional<v1::Entry> recomputed;  // what Step decides there
  std::string what;
  // The build of drop that recorded the input (its OperatorStarted's config.version), to set
  // beside this drop-replay's: another build may decide otherwise by design.
  std::string recorded_by;
};

struct VerifyReport {
  uint64_t first = 0, last = 0;  // entries checked
  // The range asked for (--from, --to). The check starts after the newest snapshot before it,
  // and ends with the decisions of its last input: first..last covers it, and may be wider.
  uint64_t asked_first = 0, asked_last = 0;
  uint64_t inputs = 0, decisions = 0;
  uint64_t unverifiable = 0;  // decisions at the start whose input is before the journal
  int snapshots_checked = 0;
  int jobs = 1;
  // --jobs (0: one per core). Fewer threads run when the range has fewer stretches between
  // snapshots, the parts that can be checked apart.
  int jobs_asked = 0;
  double seconds = 0;
  // Entries the threads went through, for the speed: after a divergence, fewer than the range
  // (the other threads stop at their next stretch).
  uint64_t gone_through = 0;
  std::optional<Divergence> divergence;
  std::string snapshot_mismatch;  // a snapshot that is not the fold of the entries before it
  std::string snapshot_by;        // the build that recorded it
  bool clean() const { return !divergence && snapshot_mismatch.empty(); }
};

Result<VerifyReport> Verify(const Reader& reader, const VerifyOptions& options);

// The report; on a divergence both decisions side by side and the inputs that fed them.
void PrintVerify(const Reader& reader, const VerifyReport& report, Format format,
                 std::ostream& out);

}  // namespace drop::replay
