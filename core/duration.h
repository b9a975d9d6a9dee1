// Durations and times as the Kubernetes API writes them: Go durations ("90s", "1h30m") and
// RFC 3339 timestamps. The core counts both in milliseconds (int64).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drop {

constexpr int64_t kSecond = 1000;
constexpr int64_t kMinute = 60 * kSecond;
constexpr int64_t kHour = 60 * kMinute;

// Parses a Go duration (time.ParseDuration: "300ms", "1.5h", "2h45m", "-1s", "0") to milliseconds,
// truncating below one millisecond; *truncated, when given, says whether that dropped anything.
Result<int64_t> ParseDuration(std::string_view text, bool* truncated = nullptr);

// Formats like Go's time.Duration.String: "1h30m0s", "1.5s", "250ms", "0s".
std::string FormatDuration(int64_t ms);

// "2026-11-25T10:42:46Z" (whole seconds, as metav1.Time) and with milliseconds for logs.
std::string FormatTime(int64_t ms);
std::string FormatTimeMillis(int64_t ms);

// Parses an RFC 3339 time ("2026-11-25T10:42:46Z", "...46.123+01:00") to milliseconds. A date
// past its month's end (2026-11-31, 2027-02-29) or an offset beyond ±23:59 is refused, not carried
// into the next month or day.
Result<int64_t> ParseTime(std::string_view text);

}  // namespace drop
