// Runs the crash test's writer (crash_child.cc) and kills it at a moment of the test's choosing.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

namespace drop::journal {

// Starts the writer on `dir`, waits until it has acknowledged `acks` batches (one line each), lets
// it write `ms` more, kills it with SIGKILL and returns all it printed. Waiting for the
// acknowledgements keeps a slow start (under a sanitizer, on a loaded machine) from making a
// round in which nothing was written; a minute without them gives up waiting.
inline std::string RunCrashChild(const std::string& dir, int acks, int ms) {
  int out[2];
  if (pipe(out) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    execl(DROP_CRASH_CHILD, DROP_CRASH_CHILD, dir.c_str(), nullptr);
    _exit(127);
  }
  close(out[1]);
  std::string printed;
  char buf[4096];
  ssize_t n;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::count(printed.begin(), printed.end(), '\n') < acks &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if ((n = read(out[0], buf, sizeof buf)) <= 0) break;  // the child ended
    printed.append(buf, static_cast<size_t>(n));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  while ((n = read(out[0], buf, sizeof buf)) > 0)
    printed.append(buf, static_cast<size_t>(n));
  close(out[0]);
  return printed;
}

}  // namespace drop::journal
