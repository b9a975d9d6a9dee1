#include "core/duration.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace drop {
namespace {

struct Unit {
  std::string_view name;
  double ms;
};

// Go's units; "µs" is spelled in both of the code points Go accepts.
constexpr Unit kUnits[] = {
    {"ns", 1e-6}, {"us", 1e-3}, {"\xC2\xB5s", 1e-3}, {"\xCE\xBCs", 1e-3},
    {"ms", 1},    {"s", 1e3},   {"m", 60e3},         {"h", 3600e3},
};

Status BadDuration(std::string_view text, std::string_view why) {
  return Status::InvalidArgument("invalid duration \"" + std::string(text) +
                                 "\": " + std::string(why) +
                                 " (use Go's form, a number and a unit of ns, us, ms, s, m or h, "
                                 "e.g. \"90s\", \"10m\", \"1h30m\")");
}

}  // namespace

Result<int64_t> ParseDuration(std::string_view text, bool* truncated) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (truncated != nullptr) *truncated = false;
  if (s == "0") return int64_t{0};
  if (s.empty()) return BadDuration(text, "empty");
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.'))
      ++i;
    if (i == 0 || s.substr(0, i) == ".") return BadDuration(text, "expected a number");
    double number = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + i, number);
    if (ec != std::errc() || end != s.data() + i) return BadDuration(text, "bad number");
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.'))
      ++u;
    if (u == 0) return BadDuration(text, "missing unit");
    std::string_view unit = s.substr(0, u);
    const Unit* found = nullptr;
    for (const Unit& candidate : kUnits) {
      if (candidate.name == unit) found = &candidate;
    }
    if (found == nullptr) return BadDuration(text, "unknown unit \"" + std::string(unit) + "\"");
    total += number * found->ms;
    s.remove_prefix(u);
  }
  if (total > 9.2e15) return BadDuration(text, "too large");
  auto ms = static_cast<int64_t>(std::floor(total + 1e-9));
  if (truncated != nullptr) *truncated = total - static_cast<double>(ms) > 1e-7;  // a ns or more
  return negative ? -ms : ms;
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  uint64_t u = ms < 0 ? static_cast<uint64_t>(-ms) : static_cast<uint64_t>(ms);
  char buf[64];
  if (u < 1000) {
    std::snprintf(buf, sizeof buf, "%s%llums", sign.c_str(), static_cast<unsigned long long>(u));
    return buf;
  }
  uint64_t h = u / kHour, m = (u % kHour) / kMinute, s = (u % kMinute) / kSecond, frac = u % 1000;
  std::string out = sign;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac > 0) {
    std::snprintf(buf, sizeof buf, ".%03llu", static_cast<unsigned long long>(frac));
    std::string f = buf;
    while (f.back() == '0')
      f.pop_back();
    out += f;
  }
  return out + "s";
}

namespace {

std::string Format(int64_t ms, bool millis) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  if (millis) {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - secs * 1000));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return buf;
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// The days of month `mon` (1-12) of `year` in the Gregorian calendar.
int DaysInMonth(int year, int mon) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return mon == 2 && leap ? 29 : kDays[mon - 1];
}

}  // namespace

std::string FormatTime(int64_t ms) {
  return Format(ms, false);
}
std::string FormatTimeMillis(int64_t ms) {
  return Format(ms, true);
}

Result<int64_t> ParseTime(std::string_view s) {
  // `why` for a time in the form that names no moment; the form's example otherwise.
  auto bad = [&](const std::string& why = "") {
    return Status::InvalidArgument("invalid time \"" + std::string(s) + "\": " +
                                   (why.empty() ? "use RFC 3339, e.g. 2026-11-25T10:02:00Z" : why));
  };
  std::tm tm{};
  int year, mon, day, hour, min, sec;
  if (!Digits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mon) ||
      s[7] != '-' || !Digits(s, 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !Digits(s, 11, 2, &hour) || s[13] != ':' || !Digits(s, 14, 2, &min) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 60) return bad();
  // timegm would carry a day past the month's end into the next month (November 31st is
  // December 1st): a mistyped date would name another moment.
  if (day > DaysInMonth(year, mon)) {
    return bad("day " + std::to_string(day) + " is past the end of " + std::string(s.substr(0, 7)) +
               ", which has " + std::to_string(DaysInMonth(year, mon)) + " days");
  }
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = 100;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return bad();
    }
    if (oh > 23 || om > 59) {
      return bad("the UTC offset " + std::string(s.substr(pos, 6)) +
                 " is out of range: its hours run 00-23, its minutes 00-59");
    }
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset_s;
  return secs * 1000 + frac_ms;
}

}  // namespace drop
