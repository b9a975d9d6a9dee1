// Running a command from a test: its exit status and everything it printed.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace drop::k8s::testing {

struct ProcessResult {
  int exit_code = -1;  // -1: it could not start, or was killed by a signal
  std::string out;
  std::string err;
  std::string Describe() const;  // "exit 1: <stderr>"
};

// Runs argv[0] (looked up in PATH) with the process's environment plus `env`, feeding `input` on
// stdin, and waits for it.
ProcessResult Run(const std::vector<std::string>& argv,
                  const std::map<std::string, std::string>& env = {},
                  const std::string& input = "");

std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);

}  // namespace drop::k8s::testing

namespace drop::k8s::testing {

// A child process that runs on its own; killed (SIGKILL) and reaped when the object goes.
class Child {
 public:
  // Starts argv with its stdout and stderr appended to `log`.
  Child(const std::vector<std::string>& argv, const std::string& log);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  void Signal(int signal);
  // Waits for it to exit; its exit code, or -1 when killed by a signal or still running after
  // `timeout_ms`.
  int Wait(int timeout_ms);

 private:
  int pid_ = -1;
  bool reaped_ = false;
};

}  // namespace drop::k8s::testing
