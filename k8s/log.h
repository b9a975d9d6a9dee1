// The operator's logs: one JSON object a line on stderr, with ts, level, msg, and whatever fields
// the call adds (controller, reconcileID, the object). Thread-safe. Never given a secret: callers
// log names, not tokens or credentials.
#pragma once

#include <boost/json.hpp>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

namespace drop::k8s {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

class Logger {
 public:
  // `out` is a file descriptor (2 = stderr); tests pass a pipe.
  explicit Logger(Level min = Level::kInfo, int out = 2) : min_(min), out_(out) {}

  // "debug" | "info" | "warn" | "error"; false when the name is none of them.
  static bool ParseLevel(std::string_view name, Level* level);

  bool Enabled(Level level) const { return level >= min_; }
  void Log(Level level, std::string_view msg, boost::json::object fields = {});
  void Info(std::string_view msg, boost::json::object fields = {}) {
    Log(Level::kInfo, msg, std::move(fields));
  }
  void Warn(std::string_view msg, boost::json::object fields = {}) {
    Log(Level::kWarn, msg, std::move(fields));
  }
  void Error(std::string_view msg, boost::json::object fields = {}) {
    Log(Level::kError, msg, std::move(fields));
  }
  void Debug(std::string_view msg, boost::json::object fields = {}) {
    Log(Level::kDebug, msg, std::move(fields));
  }

 private:
  Level min_;
  int out_;
  std::mutex mu_;
};

}  // namespace drop::k8s
