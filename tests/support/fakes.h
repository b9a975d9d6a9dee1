// Test doubles for the core's seams: an in-memory journal, a manual clock, an executor that
// records what it is asked to do.
#pragma once

#include <vector>

#include "core/executor.h"
#include "core/journal_writer.h"

namespace drop::testing {

class MemoryJournal : public JournalWriter {
 public:
  Status Append(const v1::Entry& entry) override {
    if (fail_appends) return Status::IOError("injected append failure");
    pending_.push_back(entry);
    return Status::Ok();
  }
  Status Commit(const v1::State&) override {
    if (fail_commits) {
      pending_.clear();
      return Status::IOError("injected commit failure");
    }
    for (v1::Entry& e : pending_)
      entries.push_back(std::move(e));
    pending_.clear();
    ++commits;
    return Status::Ok();
  }

  std::vector<v1::Entry> entries;  // durable
  int commits = 0;
  bool fail_appends = false;
  bool fail_commits = false;

 private:
  std::vector<v1::Entry> pending_;
};

class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t now) : now_ms(now) {}
  int64_t NowMs() override { return now_ms; }
  int64_t now_ms;
};

class RecordingExecutor : public Executor {
 public:
  void Execute(const v1::Entry& action) override { actions.push_back(action); }
  std::vector<v1::Entry> actions;
};

}  // namespace drop::testing
