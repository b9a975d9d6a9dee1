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

// "10:02:13" or "10:02:13.250": milliseconds since midnight, or -1.
int64_t TimeOfDay(std::string_view s) {
  int h = 0, m = 0, sec = 0, ms = 0;
  if (s.size() < 8 || s[2] != ':' || s[5] != ':') return -1;
  auto num = [&](size_t at, size_t n, int* out) {
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + n, *out);
    return ec == std::errc() && p == s.data() + at + n;
  };
  if (!num(0, 2, &h) || !num(3, 2, &m) || !num(6, 2, &sec)) return -1;
  if (s.size() > 8) {
    if (s[8] != '.' || s.size() > 12 || s.size() < 10) return -1;
    std::string frac(s.substr(9));
    frac.resize(3, '0');
    if (!AllDigits(frac)) return -1;
    ms = std::stoi(frac);
  }
  if (h > 23 || m > 59 || sec > 59) return -1;
  return ((h * 60 + m) * 60 + sec) * 1000 + ms;
}

}  // namespace

Result<Point> ResolvePoint(const Reader& r, std::string_view text, std::string_view flag) {
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
    Result<int64_t> d = ParseDuration(text.substr(1));
    if (!d.ok()) {
      return Status::InvalidArgument(what + ": " + d.status().message() +
                                     "; +DURATION counts from the journal's start, -DURATION "
                                     "back from its end");
    }
    t = text[0] == '+' ? r.first_time() + *d : r.last_time() - *d;
  } else if (int64_t tod = TimeOfDay(text); tod >= 0) {
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
      return Status::InvalidArgument(what +
                                     ": not a sequence number, an RFC 3339 time "
                                     "(2027-01-15T08:00:00Z), a time of day (10:02:13), "
                                     "or an offset (+90s from the start, -5m from the end)");
    }
    t = *parsed;
  }
  if (t < r.origin().time_ms || t > r.last_time()) {
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
