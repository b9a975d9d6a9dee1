// Freeing what a command built, off the command's path.
#pragma once

#include <system_error>
#include <thread>
#include <utility>

namespace drop::replay {

// Frees `value` on a thread of its own, which nothing waits for. A State of 100,000 pod records
// with its index, or the history of a million pulls, takes a fifth of a second or more to free:
// time no answer needs, and at the end of a command the process exits instead. When no thread
// can be started, `value` is freed here, as the failed start unwinds.
template <typename T>
void FreeLater(T value) {
  try {
    std::thread([freed = std::move(value)] {}).detach();
  } catch (const std::system_error&) {
  }
}

}  // namespace drop::replay
