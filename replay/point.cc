#include "replay/point.h"

#include <charconv>

#include "core/duration.h"

namespace drop::replay {
namespace {

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Two digits at s[at] making a number no greater than `max`, or -1. No sign: from_chars would
// read "-9" in "16:34:-9" as a field.
int Field(std::string_view s, size_t at, int max) {
  if (at + 2 > s.size() || !AllDigits(s.substr(at, 2))) return -1;
  int v = (s[at] - '0') * 10 + (s[at + 1] - '0');
  return v <= max ? v : -1;
}

// Whether `s` is written as a time of day, well or not: a colon within its first three characters
// (an RFC 3339 time has its first at the fourteenth).
bool TimeOfDayForm(std::string_view s) {
  size_t colon = s.find(':');
  return colon != std::string_view::npos && colon <= 2;
}

// "10:02:13" or "10:02:13.250" (to the millisecond): milliseconds since midnight, or -1.
int64_t TimeOfDay(std::string_view s) {
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return -1;
  int64_t h = Field(s, 0, 23), m = Field(s, 3, 59), sec = Field(s, 6, 59);
  if (h < 0 || m < 0 || sec < 0) return -1;
  int64_t ms = 0;
  if (s.size() > 8) {
    std::string_view frac = s.substr(9);
    if (s[8] != '.' || frac.size() > 3 || !AllDigits(frac)) return -1;
    for (size_t i = 0; i < 3; ++i)
      ms = ms * 10 + (i < frac.size() ? frac[i] - '0' : 0);
  }
  return ((h * 60 + m) * 60 + sec) * kSecond + ms;
}

}  // namespace

Result<Point> ResolvePoint(const Reader& r, std::string_view text, std::string_view flag,
                           bool range_start) {
  const std::string what = std::string(flag) + " " + std::string(text);
  const std::string range = "the journal holds " + r.RangeText();
  if (AllDigits(text)) {
    uint64_t seq = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
    if (ec != std::errc()) return Status::InvalidArgument(what + ": not a sequence number");
    if (seq < r.origin().seq || seq > r.last()) {
      return Status::InvalidArgument(what + ": no such entry; " + range +
                                     (r.first() > 1 ? " (older ones were dropped by retention; " +
                                                          std::to_string(r.origin().seq) +
                                                          " is the oldest state kept)"
                                                    : ""));
    }
    if (seq == r.origin().seq) return r.origin();
    Result<v1::Entry> e = r.store().Get(seq);
    if (!e.ok()) return e.status();
    return Point{seq, e->time_ms()};
  }
  int64_t t = 0;
  if (!text.empty() && (text[0] == '+' || text[0] == '-')) {
    const std::string offset_forms =
        "+DURATION counts from the journal's start, -DURATION back from its end (+90s, -5m)";
    std::string_view duration = text.substr(1);
    // ParseDuration takes a sign of its own: "--5s" would count forward from the end.
    if (!duration.empty() && (duration[0] == '+' || duration[0] == '-')) {
      return Status::InvalidArgument(what + ": malformed offset, a sign too many; " + offset_forms);
    }
    Result<int64_t> d = ParseDuration(duration);
    if (!d.ok()) {
      return Status::InvalidArgument(what + ": " + d.status().message() + "; " + offset_forms);
    }
    t = text[0] == '+' ? r.first_time() + *d : r.last_time() - *d;
  } else if (TimeOfDayForm(text)) {
    int64_t tod = TimeOfDay(text);
    if (tod < 0) {
      return Status::InvalidArgument(
          what +
          ": malformed time of day; write HH:MM:SS or HH:MM:SS.mmm, hours 00-23 and "
          "minutes and seconds 00-59 (10:02:13, 10:02:13.250), or a full RFC 3339 time");
    }
    int64_t day = r.first_time() - r.first_time() % (24 * kHour);
    if (r.last_time() - r.last_time() % (24 * kHour) != day) {
      return Status::InvalidArgument(what +
                                     ": the journal spans more than one day (UTC); give "
                                     "a full RFC 3339 time, e.g. " +
                                     FormatTime(r.first_time()));
    }
    t = day + tod;
  } else {
    Result<int64_t> parsed = ParseTime(text);
    if (!parsed.ok()) {
      // Written as a date: say what is wrong with it ("day 31 is past the end of 2026-11").
      if (text.size() > 4 && AllDigits(text.substr(0, 4)) && text[4] == '-') {
        return Status::InvalidArgument(what + ": " + parsed.status().message());
      }
      return Status::InvalidArgument(what + ": malformed: not " + std::string(kPointForms));
    }
    t = *parsed;
  }
  if (t < r.origin().time_ms) {
    // A range from before the journal is a range from its start; a state there was never
    // recorded.
    if (range_start) return r.origin();
    return Status::InvalidArgument(
        what + " (" + FormatTimeMillis(t) + ") is outside the journal: " + range +
        "; it holds no state before " + FormatTimeMillis(r.origin().time_ms) +
        " (the earliest point is " + std::string(flag) + " " + std::to_string(r.origin().seq) +
        (r.origin().seq == 0 ? ", the empty state before entry 1)"
                             : ", the state after entry " + std::to_string(r.origin().seq) +
                                   " that retention kept)"));
  }
  if (t > r.last_time()) {
    return Status::InvalidArgument(what + " (" + FormatTimeMillis(t) +
                                   ") is outside the journal: " + range);
  }
  // The state at time t: every entry recorded at or before t folded.
  Result<uint64_t> after = r.store().SeqAtOrAfter(t + 1);
  if (!after.ok()) return after.status();
  uint64_t seq = *after - 1;
  if (seq < r.origin().seq) seq = r.origin().seq;
  return Point{seq, t};
}

std::string AwayNote(const Reader& r, const Point& at) {
  if (at.seq < r.origin().seq || at.seq >= r.last()) return "";
  Result<v1::Entry> next = r.store().Get(at.seq + 1);
  if (!next.ok() || !next->has_started()) return "";
  Result<v1::Entry> last = r.store().Get(at.seq);
  if (!last.ok() || at.time_ms <= last->time_ms()) return "";
  return "note: the operator that wrote entry " + std::to_string(at.seq) + " (" +
         FormatTimeMillis(last->time_ms()) + ") wrote nothing after it, and a new one started at " +
         "entry " + std::to_string(at.seq + 1) + " (" + FormatTimeMillis(next->time_ms()) +
         "): at " + FormatTimeMillis(at.time_ms) + " drop may not have been running, and what " +
         "changed in the cluster meanwhile reached it only by the relist after that start.\n";
}

std::string PointText(const Point& at) {
  return FormatTimeMillis(at.time_ms) +
         (at.seq == 0 ? ", before the first entry" : ", after entry " + std::to_string(at.seq));
}

}  // namespace drop::replay
