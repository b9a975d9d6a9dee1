// drop-replay timeline: one self-contained HTML file (no network, no CDN) that draws the journal:
// a lane per node with its pull spans coloured by outcome and the waits before them (their
// reasons on hover), and above them the active pulls under each policy against its limit. The
// page draws on canvas and only what is in view, so 5,000 lanes scroll, zoom and filter (by image
// or node) smoothly. The data is packed (varints, base64) to keep the file small.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "replay/history.h"
#include "replay/reader.h"

namespace drop::replay {

struct TimelineOptions {
  std::string since, until;                                    // points; empty: the whole journal
  std::string since_flag = "--since", until_flag = "--until";  // as typed, for an error to name
  std::string title;
};

struct TimelineFigures {
  size_t lanes = 0, spans = 0, passes = 0, bytes = 0;
  size_t waiting = 0;  // (node, image) waits with no pull started by the end
};

// A point of a policy's line of active pulls (as the core counts them: History::active_changes)
// against its limit: where a pod starts or stops counting, or moves with its CachedImage, and at
// each pacing pass of the policy that evaluated a lane, with the verdict that ended it. The limit
// comes from the passes: a policy with none in the range has no line.
struct ActivePoint {
  int64_t time_ms = 0;
  int64_t active = 0, limit = 0;
  v1::Verdict blocking = v1::VERDICT_UNKNOWN;
  bool operator==(const ActivePoint&) const = default;
};

// Each policy's line (by policy id), a point only where the count, the limit or the verdict
// changes.
std::vector<std::vector<ActivePoint>> ActiveLines(const History& history);

// A CachedImage held back by its own state over [from_ms, to_ms): code 3 WaitBackoff (its
// backoff's delay), 4 NoEligibleNode, 5 WaitBackoff (one node at a time while a pull fails).
struct Hold {
  int64_t from_ms, to_ms;
  int code;
  bool operator==(const Hold&) const = default;
};

// Each image's holds (by image id): a hold is recorded once, by the pass that found it, and lasts
// until its backoff's end when it has one, else until the image's next start, next hold, or a
// pass that finds it next in line behind the policy's limits (PassRecord::Held), or `end_ms`.
std::vector<std::vector<Hold>> Holds(const History& history, int64_t end_ms);

Result<TimelineFigures> WriteTimeline(const Reader& reader, const TimelineOptions& options,
                                      std::ostream& out);

extern const char kTimelinePage[];  // replay/timeline_page.html, compiled in

}  // namespace drop::replay
