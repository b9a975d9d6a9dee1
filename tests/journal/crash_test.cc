// Crash safety: a child process appends batches and reports each one once durable; the test
// kills it with SIGKILL at random moments, 50 times, reopening after each kill. Every acknowledged
// entry must be there, sequence numbers contiguous, no batch in part, and the recovered state the
// fold of what is there.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "core/fold.h"
#include "journal/journal.h"
#include "tests/journal/run_crash_child.h"
#include "tests/support/temp_dir.h"

namespace drop::journal {
namespace {

// Runs the child writer on `dir` until it has acknowledged a first batch, lets it write `ms` more,
// kills it, and returns the last sequence number it acknowledged (0 if none).
uint64_t RunAndKill(const std::string& dir, int ms) {
  std::string acks = RunCrashChild(dir, 1, ms);
  uint64_t last = 0;
  std::istringstream lines(acks);
  std::string word;
  uint64_t seq;
  while (lines >> word >> seq) {
    if (word == "ack") last = seq;
  }
  return last;
}

TEST(Crash, KilledWritersLoseNoAcknowledgedEntryAndNoBatchSurvivesInPart) {
  drop::testing::TempDir dir;
  std::mt19937 rng(2026);
  uint64_t acked = 0;
  int rounds_with_progress = 0;
  for (int round = 0; round < 50; ++round) {
    uint64_t last_ack = RunAndKill(dir.path(), static_cast<int>(rng() % 100));
    if (last_ack > acked) {
      acked = last_ack;
      ++rounds_with_progress;
    }
    JournalOptions options;
    options.dir = dir.path();
    auto journal = Journal::Open(options);
    ASSERT_TRUE(journal.ok()) << "round " << round << ": " << journal.status().ToString();
    v1::State recovered = (*journal)->TakeRecoveredState();
    ASSERT_GE(recovered.last_seq(), acked)
        << "round " << round << ": an acknowledged entry is lost";

    v1::State folded = InitialState();
    uint64_t count = 0;
    Store::Iterator it = (*journal)->store().Entries(1);
    for (; it.Valid(); it.Next()) {
      const v1::Entry& e = it.entry();
      ++count;
      // "<first>/<size>/<index>": the entry sits where its batch says, and its batch is whole.
      uint64_t first = 0, size = 0, index = 0;
      ASSERT_EQ(std::sscanf(e.timer().key().name().c_str(), "%lu/%lu/%lu", &first, &size, &index),
                3);
      ASSERT_EQ(e.seq(), first + index) << "round " << round;
      ASSERT_LE(first + size - 1, recovered.last_seq())
          << "round " << round << ": batch at " << first << " survives in part";
      Apply(e, &folded);
    }
    ASSERT_TRUE(it.status().ok()) << it.status().ToString();
    ASSERT_EQ(count, recovered.last_seq()) << "sequence numbers are not contiguous from 1";
    ASSERT_EQ(folded.SerializeAsString(), recovered.SerializeAsString()) << "round " << round;
    acked = recovered.last_seq();  // the next child continues from here
  }
  EXPECT_EQ(rounds_with_progress, 50) << "a round in which the child wrote nothing";
  std::cout << "[   INFO   ] 50 kills, " << acked << " entries, " << rounds_with_progress
            << " rounds with new acknowledgements\n";
}

}  // namespace
}  // namespace drop::journal
