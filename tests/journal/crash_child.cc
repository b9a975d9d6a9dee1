// The writer the crash test kills: opens the journal in argv[1], then appends batches of 1-50
// entries forever, printing "ack <seq>" once each batch is durable. Every entry names its batch
// ("<first seq>/<size>/<index>") so the parent can check that no batch survives in part.
#include <cstdio>
#include <random>
#include <string>

#include "core/fold.h"
#include "journal/journal.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: journal_crash_child DIR\n");
    return 2;
  }
  drop::journal::JournalOptions options;
  options.dir = argv[1];
  options.snapshot_every_entries = 300;  // snapshots get killed mid-way too
  auto journal = drop::journal::Journal::Open(options);
  if (!journal.ok()) {
    std::fprintf(stderr, "%s\n", journal.status().ToString().c_str());
    return 1;
  }
  drop::v1::State state = (*journal)->TakeRecoveredState();
  std::mt19937_64 rng(static_cast<uint64_t>(state.last_seq()) * 7919 + 1);
  while (true) {
    uint64_t first = state.last_seq() + 1;
    int size = 1 + static_cast<int>(rng() % 50);
    for (int i = 0; i < size; ++i) {
      drop::v1::Entry e;
      e.set_seq(first + static_cast<uint64_t>(i));
      e.set_time_ms(1'800'000'000'000 + static_cast<int64_t>(first));
      e.mutable_timer()->mutable_key()->set_name(std::to_string(first) + "/" +
                                                 std::to_string(size) + "/" + std::to_string(i));
      if (!(*journal)->Append(e).ok()) return 1;
      drop::Apply(e, &state);
    }
    drop::Status s = (*journal)->Commit(state);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    std::printf("ack %llu\n", static_cast<unsigned long long>(state.last_seq()));
    std::fflush(stdout);
  }
}
