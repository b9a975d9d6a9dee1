// drop-replay timeline: one self-contained HTML file (no network, no CDN) that draws the journal:
// a lane per node with its pull spans coloured by outcome and the waits before them (their
// reasons on hover), and above them the active pulls under each policy against its limit. The
// page draws on canvas and only what is in view, so 5,000 lanes scroll, zoom and filter (by image
// or node) smoothly. The data is packed (varints, base64) to keep the file small.
#pragma once

#include <ostream>
#include <string>

#include "core/status.h"
#include "replay/reader.h"

namespace drop::replay {

struct TimelineOptions {
  std::string since, until;                                    // points; empty: the whole journal
  std::string since_flag = "--since", until_flag = "--until";  // as typed, for an error to name
  std::string title;
};

struct TimelineFigures {
  size_t lanes = 0, spans = 0, passes = 0, bytes = 0;
};

Result<TimelineFigures> WriteTimeline(const Reader& reader, const TimelineOptions& options,
                                      std::ostream& out);

extern const char kTimelinePage[];  // replay/timeline_page.html, compiled in

}  // namespace drop::replay
