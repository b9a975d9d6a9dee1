#include "k8s/log.h"

#include <unistd.h>

#include <chrono>

#include "core/duration.h"

namespace drop::k8s {

bool Logger::ParseLevel(std::string_view name, Level* level) {
  if (name == "debug")
    *level = Level::kDebug;
  else if (name == "info")
    *level = Level::kInfo;
  else if (name == "warn" || name == "warning")
    *level = Level::kWarn;
  else if (name == "error")
    *level = Level::kError;
  else
    return false;
  return true;
}

void Logger::Log(Level level, std::string_view msg, boost::json::object fields) {
  if (!Enabled(level)) return;
  static const char* const kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  // ts, level and msg first, so a reader's eye (and `cut`) finds them in the same place.
  boost::json::object line;
  line.reserve(fields.size() + 3);
  line["ts"] = FormatTimeMillis(now);
  line["level"] = kNames[static_cast<int>(level)];
  line["msg"] = msg;
  for (auto& [k, v] : fields)
    line[k] = std::move(v);
  std::string text = boost::json::serialize(line);
  text.push_back('\n');
  std::lock_guard lock(mu_);
  for (size_t done = 0; done < text.size();) {
    ssize_t n = write(out_, text.data() + done, text.size() - done);
    if (n <= 0) return;  // nowhere to log to: drop the line rather than stall the operator
    done += static_cast<size_t>(n);
  }
}

}  // namespace drop::k8s
