// How the user names a moment of the journal (--at, --from, --to, --since, --until).
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "replay/reader.h"

namespace drop::replay {

// The forms a point takes, for the messages that ask for one.
inline constexpr std::string_view kPointForms =
    "a sequence number, an RFC 3339 time (2027-01-15T08:00:00Z), a time of day (10:02:13), or an "
    "offset (+90s from the start, -5m from the end)";

// See Reader::Resolve; `range_start` says whether `text` is where a range starts.
Result<Point> ResolvePoint(const Reader& reader, std::string_view text, std::string_view flag,
                           bool range_start);

// "2026-11-26T23:20:08.275Z, after entry 456": the moment asked for, then the entry whose state
// holds there (the last one at or before it, whose own time may be earlier).
std::string PointText(const Point& at);

// A line for a moment that falls where the journal is silent before an operator start: the
// process that wrote the entry before may have stopped by then, so drop's view at the moment may
// be older than the cluster. "" for any other moment.
std::string AwayNote(const Reader& reader, const Point& at);

}  // namespace drop::replay
