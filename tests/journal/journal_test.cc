// The RocksDB journal: recovery, ordering rules, snapshots and retention, reads by time and
// sequence, schema versions, group commit, a reader beside a live writer, checkpoints.
#include "journal/journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/fold.h"
#include "journal/format.h"
#include "journal/read_ahead.h"
#include "tests/support/random_world.h"
#include "tests/support/temp_dir.h"

namespace drop::journal {
namespace {

using drop::testing::RandomWorld;
using drop::testing::TempDir;

std::string Bytes(const google::protobuf::Message& m) {
  return m.SerializeAsString();
}

// A recorded history from the real core, to write and read back.
const std::vector<v1::Entry>& History(uint64_t seed = 7) {
  static std::map<uint64_t, std::vector<v1::Entry>> cache;
  auto it = cache.find(seed);
  if (it == cache.end()) {
    RandomWorld random(seed);
    for (int i = 0; i < 250; ++i)
      random.Step();
    it = cache.emplace(seed, random.world.journal()).first;
  }
  return it->second;
}

v1::State FoldPrefix(const std::vector<v1::Entry>& entries, size_t n) {
  v1::State state = InitialState();
  for (size_t i = 0; i < n; ++i)
    Apply(entries[i], &state);
  return state;
}

JournalOptions Options(const std::string& dir) {
  JournalOptions o;
  o.dir = dir;
  return o;
}

// Appends `entries` [from, to) through the JournalWriter interface in batches of `batch`,
// committing each with the state it folds to.
void WriteAll(Journal* j, const std::vector<v1::Entry>& entries, size_t from, size_t to,
              size_t batch, v1::State* state) {
  for (size_t i = from; i < to; i += batch) {
    for (size_t k = i; k < std::min(to, i + batch); ++k) {
      ASSERT_TRUE(j->Append(entries[k]).ok());
      Apply(entries[k], state);
    }
    Status s = j->Commit(*state);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
}

// Writes all of History() to a new journal in `dir`, and closes it.
void WriteHistory(const std::string& dir) {
  v1::State state = InitialState();
  auto j = Journal::Open(Options(dir));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  WriteAll(j->get(), History(), 0, History().size(), 37, &state);
}

TEST(Journal, ReopeningRecoversTheStateTheEntriesFoldTo) {
  TempDir dir;
  const auto& h = History();
  WriteHistory(dir.path());
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(Bytes((*j)->TakeRecoveredState()), Bytes(FoldPrefix(h, h.size())));
  EXPECT_EQ((*j)->last_seq(), h.size());
}

TEST(Journal, RefusesAGapOrATimeThatGoesBack) {
  TempDir dir;
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok());
  const auto& h = History();
  v1::State state = InitialState();
  WriteAll(j->get(), h, 0, 10, 10, &state);
  ASSERT_TRUE((*j)->Append(h[11]).ok());  // entry 12 after 10: a gap
  Status s = (*j)->Commit(state);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("does not continue the journal"), std::string::npos) << s.message();
  v1::Entry back = h[10];
  back.set_time_ms(h[9].time_ms() - 1);
  ASSERT_TRUE((*j)->Append(back).ok());
  s = (*j)->Commit(state);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("recorded earlier"), std::string::npos) << s.message();
  Batch batch;
  ASSERT_TRUE(batch.Add(h[10]).ok());
  EXPECT_FALSE(batch.Add(h[12]).ok());
  EXPECT_EQ((*j)->last_seq(), 10u);
}

TEST(Journal, SnapshotPlusTailEqualsFullReplayForRandomHistories) {
  for (uint64_t seed : {1, 2, 3}) {
    TempDir dir;
    const auto& h = History(seed);
    JournalOptions o = Options(dir.path());
    o.snapshot_every_entries = 500;
    {
      auto j = Journal::Open(o);
      ASSERT_TRUE(j.ok());
      v1::State state = InitialState();
      WriteAll(j->get(), h, 0, h.size(), 23, &state);
      EXPECT_GT((*j)->metrics().snapshots_written.load(), 3u);
    }
    auto j = Journal::Open(o);
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(Bytes((*j)->TakeRecoveredState()), Bytes(FoldPrefix(h, h.size()))) << "seed " << seed;
    const Store& store = (*j)->store();
    for (uint64_t seq :
         {uint64_t{1}, uint64_t{499}, uint64_t{500}, uint64_t{777}, uint64_t{h.size()}}) {
      Result<v1::State> at = store.StateAt(seq);
      ASSERT_TRUE(at.ok()) << at.status().ToString();
      EXPECT_EQ(Bytes(*at), Bytes(FoldPrefix(h, seq))) << "seed " << seed << " seq " << seq;
    }
  }
}

TEST(Journal, RetentionDropsAPrefixAndTheRestStillRebuilds) {
  TempDir dir;
  const auto& h = History(4);
  JournalOptions o = Options(dir.path());
  o.snapshot_every_entries = 400;
  // Keep entries recorded in the last 20 minutes of the history, and at least one snapshot.
  o.retention_age_ms = 20 * 60 * 1000;
  {
    auto j = Journal::Open(o);
    ASSERT_TRUE(j.ok());
    v1::State state = InitialState();
    WriteAll(j->get(), h, 0, h.size(), 50, &state);
    EXPECT_GT((*j)->metrics().entries_dropped.load(), 0u);
  }
  auto j = Journal::Open(o);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(Bytes((*j)->TakeRecoveredState()), Bytes(FoldPrefix(h, h.size())));
  const Store& store = (*j)->store();
  auto range = store.Range();
  ASSERT_TRUE(range.ok());
  EXPECT_GT(range->first, 1u);
  EXPECT_GE(h[range->first - 1].time_ms(), h.back().time_ms() - 2 * o.retention_age_ms);
  // The oldest point left is rebuildable; anything before it is refused with a reason.
  Result<v1::State> oldest = store.StateAt(range->first - 1);
  ASSERT_TRUE(oldest.ok()) << oldest.status().ToString();
  EXPECT_EQ(Bytes(*oldest), Bytes(FoldPrefix(h, range->first - 1)));
  Result<v1::State> before = store.StateAt(range->first - 2);
  EXPECT_FALSE(before.ok());
  EXPECT_NE(before.status().message().find("before the oldest point"), std::string::npos);
}

TEST(Journal, RetentionBySizeKeepsTheJournalBounded) {
  TempDir dir;
  JournalOptions o = Options(dir.path());
  o.snapshot_every_entries = 2000;
  o.retention_bytes = 2 << 20;
  auto j = Journal::Open(o);
  ASSERT_TRUE(j.ok());
  v1::State state = InitialState();
  const auto& h = History(5);
  // Write the history several times over (renumbered), far past the limit.
  uint64_t seq = 0;
  int64_t time = h.front().time_ms();
  for (int round = 0; round < 12; ++round) {
    for (size_t i = 0; i < h.size(); i += 64) {
      for (size_t k = i; k < std::min(h.size(), i + 64); ++k) {
        v1::Entry e = h[k];
        e.set_seq(++seq);
        time = std::max<int64_t>(time, e.time_ms() + round * int64_t{86'400'000});
        e.set_time_ms(time);
        ASSERT_TRUE((*j)->Append(e).ok());
        Apply(e, &state);
      }
      ASSERT_TRUE((*j)->Commit(state).ok());
    }
  }
  EXPECT_GT((*j)->metrics().entries_dropped.load(), 0u);
  EXPECT_LT((*j)->store().BytesOnDisk(), 4u << 20)
      << "retention should hold the journal near 2 MiB";
}

TEST(Journal, FindsEntriesByTime) {
  TempDir dir;
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok());
  const auto& h = History();
  v1::State state = InitialState();
  WriteAll(j->get(), h, 0, h.size(), 100, &state);
  const Store& store = (*j)->store();
  for (size_t i : {size_t{0}, h.size() / 3, h.size() - 1}) {
    Result<uint64_t> seq = store.SeqAtOrAfter(h[i].time_ms());
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(h[*seq - 1].time_ms(), h[i].time_ms());
    EXPECT_TRUE(*seq == 1 || h[*seq - 2].time_ms() < h[i].time_ms());
  }
  EXPECT_EQ(*store.SeqAtOrAfter(h.back().time_ms() + 1), h.size() + 1);
}

TEST(Journal, AJournalOfANewerSchemaIsRefusedWithAMessageThatSaysSo) {
  TempDir dir;
  {
    auto j = Journal::Open(Options(dir.path()));
    ASSERT_TRUE(j.ok());
    v1::State state = InitialState();
    WriteAll(j->get(), History(), 0, 10, 10, &state);
    rocksdb::WriteOptions w;
    ASSERT_TRUE((*j)->store()
                    .db()
                    ->Put(w, (*j)->store().meta(), std::string(kSchemaVersionKey), "99")
                    .ok());
  }
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(j.status().message().find("schema version 99, newer than this build"),
            std::string::npos)
      << j.status().message();
  Store::Options ro;
  EXPECT_FALSE(Store::Open(dir.path(), ro).ok());
}

// Schema 1 kept every pod record in one list, State.pods (now legacy_pods).
v1::State InSchemaOne(v1::State state) {
  for (v1::PodGroup& group : *state.mutable_pod_groups()) {
    for (v1::PodRecord& pod : *group.mutable_pods())
      *state.add_legacy_pods() = std::move(pod);
  }
  state.clear_pod_groups();
  state.set_schema_version(1);
  return state;
}

TEST(Journal, AJournalOfSchemaOneReadsOnAndIsMarkedNewerOnceWritten) {
  TempDir dir;
  const auto& h = History();
  JournalOptions o = Options(dir.path());
  o.snapshot_every_entries = 300;
  {
    auto j = Journal::Open(o);
    ASSERT_TRUE(j.ok());
    v1::State state = InitialState();
    WriteAll(j->get(), h, 0, h.size(), 20, &state);
    // Rewrite it as schema 1 wrote it.
    rocksdb::DB* db = (*j)->store().db();
    rocksdb::WriteOptions w;
    int legacy_pods = 0;
    Result<std::vector<Store::SnapshotInfo>> listed = (*j)->store().Snapshots();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    for (const Store::SnapshotInfo& s : *listed) {
      Result<v1::State> at = (*j)->store().StateAt(s.seq);
      ASSERT_TRUE(at.ok()) << at.status().ToString();
      v1::State old = InSchemaOne(*at);
      legacy_pods += old.legacy_pods_size();
      ASSERT_TRUE(db->Put(w, (*j)->store().snapshots(), EncodeSeq(s.seq), Bytes(old)).ok());
    }
    ASSERT_GT(legacy_pods, 0) << "no snapshot held a pod";
    ASSERT_TRUE(db->Put(w, (*j)->store().meta(), std::string(kSchemaVersionKey), "1").ok());
  }
  {
    Store::Options ro;
    auto store = Store::Open(dir.path(), ro);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->SchemaVersion(), 1u) << "a reader leaves the journal as it is";
    Result<std::vector<Store::SnapshotInfo>> listed = (*store)->Snapshots();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    for (const Store::SnapshotInfo& s : *listed) {
      Result<v1::State> at = (*store)->StateAt(s.seq);
      ASSERT_TRUE(at.ok()) << at.status().ToString();
      EXPECT_EQ(Bytes(*at), Bytes(FoldPrefix(h, s.seq))) << "snapshot after entry " << s.seq;
    }
  }
  auto j = Journal::Open(o);
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ(Bytes((*j)->TakeRecoveredState()), Bytes(FoldPrefix(h, h.size())));
  EXPECT_EQ(*(*j)->store().SchemaVersion(), kSchemaVersion)
      << "a writer adds snapshots an older reader would misread";
}

TEST(Journal, EntriesWithFieldsThisBuildDoesNotKnowStillRead) {
  TempDir dir;
  const auto& h = History();
  {
    auto j = Journal::Open(Options(dir.path()));
    ASSERT_TRUE(j.ok());
    v1::State state = InitialState();
    WriteAll(j->get(), h, 0, 20, 20, &state);
    // An entry as a later writer of the same schema might leave it: with a field added.
    std::string value = h[20].SerializeAsString();
    value += std::string("\xf8\x07\x2a", 3);  // field 127, varint 42
    rocksdb::WriteOptions w;
    ASSERT_TRUE((*j)->store().db()->Put(w, (*j)->store().entries(), EncodeSeq(21), value).ok());
  }
  Store::Options ro;
  auto store = Store::Open(dir.path(), ro);
  ASSERT_TRUE(store.ok());
  Result<v1::Entry> e = (*store)->Get(21);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->seq(), 21u);
}

TEST(Journal, ADirectoryThatIsNotAJournalGetsAClearError) {
  TempDir dir;
  Store::Options ro;
  auto missing = Store::Open(dir / "nope", ro);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no such directory"), std::string::npos);
  std::ofstream(dir / "notes.txt") << "hello";
  auto other = Journal::Open(Options(dir.path()));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("not a drop journal"), std::string::npos)
      << other.status().message();
  EXPECT_TRUE(std::filesystem::exists(dir / "notes.txt"));  // nothing touched

  // A journal another writer holds: advice for a second operator, not for a reader.
  auto first = Journal::Open(Options(dir / "deep/er/j"));  // its parents are made too
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Journal::Open(Options(dir / "deep/er/j"));
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("stop it, or give this one another --journal-dir"),
            std::string::npos)
      << second.status().message();
}

// A journal that lost its write-ahead log is not taken for a new one, which would write over
// what is left of the record.
TEST(Journal, AJournalThatLostItsWriteAheadLogIsRefusedNotStartedAfresh) {
  for (bool emptied : {false, true}) {
    TempDir dir;
    WriteHistory(dir.path());
    int logs = 0;
    for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
      if (f.path().extension() != ".log") continue;
      ++logs;
      if (emptied) {
        std::ofstream(f.path(), std::ios::trunc).flush();
      } else {
        std::filesystem::remove(f.path());
      }
    }
    ASSERT_GT(logs, 0);
    auto j = Journal::Open(Options(dir.path()));
    ASSERT_FALSE(j.ok()) << (emptied ? "emptied" : "deleted") << ": opened at entry "
                         << (*j)->last_seq();
    EXPECT_EQ(j.status().code(), Status::Code::kCorruption);
    EXPECT_NE(j.status().message().find("its write-ahead log (*.log) is missing or was emptied"),
              std::string::npos)
        << j.status().message();
    // Refused again, not made a new journal by the first attempt.
    EXPECT_FALSE(Journal::Open(Options(dir.path())).ok());
  }
}

// Cut short between RocksDB's creation of the database and the schema version: the mark left in
// the directory says so, and the next open creates the journal again.
TEST(Journal, ACreationCutShortStartsAgain) {
  TempDir dir;
  std::filesystem::create_directories(dir / "j");
  std::ofstream(dir / ("j/" + std::string(kCreatingFile))).flush();
  {
    Store::Options rw;
    rw.mode = Store::Mode::kReadWrite;
    rw.create_if_missing = true;
    auto store = Store::Open(dir / "j", rw);  // RocksDB's files, then the crash
    ASSERT_TRUE(store.ok()) << store.status().ToString();
  }
  auto j = Journal::Open(Options(dir / "j"));
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)->last_seq(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir / ("j/" + std::string(kCreatingFile))));
  v1::State state = InitialState();
  WriteAll(j->get(), History(), 0, 10, 5, &state);
  j->reset();
  auto again = Journal::Open(Options(dir / "j"));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->last_seq(), 10u);
}

TEST(Journal, ConcurrentWritersShareSyncs) {
  TempDir dir;
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok());
  Journal* journal = j->get();
  const int kThreads = 8, kBatches = 40, kPerBatch = 4;
  std::atomic<int> ticket{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (true) {
        int n = ticket.fetch_add(1);
        if (n >= kThreads * kBatches) return;
        Batch b;
        for (int k = 0; k < kPerBatch; ++k) {
          v1::Entry e;
          e.set_seq(static_cast<uint64_t>(n * kPerBatch + k + 1));
          e.set_time_ms(1000);
          e.mutable_timer()->mutable_key()->set_name("batch-" + std::to_string(n));
          if (!b.Add(e).ok()) failures++;
        }
        if (!journal->Write(b).ok()) failures++;
      }
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(journal->last_seq(), static_cast<uint64_t>(kThreads * kBatches * kPerBatch));
  uint64_t syncs = journal->metrics().batches_committed.load();
  EXPECT_LT(syncs, static_cast<uint64_t>(kThreads * kBatches)) << "no write was shared";
  std::cout << "[   INFO   ] " << kThreads * kBatches << " batches in " << syncs
            << " synced writes\n";
  Store::Iterator it = journal->store().Entries(1);
  uint64_t n = 0;
  for (; it.Valid(); it.Next())
    ++n;
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(n, journal->last_seq());
}

TEST(Journal, AReaderBesideALiveWriterSeesWholeBatchesAndCatchesUp) {
  TempDir dir;
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok());
  std::atomic<bool> stop{false};
  const int kPerBatch = 7;
  std::thread writer([&] {
    uint64_t seq = 0;
    for (int b = 0; !stop && b < 3000; ++b) {
      Batch batch;
      for (int k = 0; k < kPerBatch; ++k) {
        v1::Entry e;
        e.set_seq(++seq);
        e.set_time_ms(1000 + b);
        e.mutable_timer()->mutable_key()->set_name(std::to_string(b));
        ASSERT_TRUE(batch.Add(e).ok());
      }
      ASSERT_TRUE((*j)->Write(batch).ok());
    }
  });
  while ((*j)->last_seq() < 200)
    std::this_thread::yield();
  TempDir secondary;
  Store::Options so;
  so.mode = Store::Mode::kSecondary;
  so.secondary_dir = secondary.path();
  auto reader = Store::Open(dir.path(), so);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  uint64_t seen = 0;
  for (int look = 0; look < 5; ++look) {
    auto range = (*reader)->Range();
    ASSERT_TRUE(range.ok());
    EXPECT_EQ(range->first, 1u);
    EXPECT_EQ(range->second % kPerBatch, 0u) << "a batch seen in part";
    EXPECT_GE(range->second, seen);
    Store::Iterator it = (*reader)->Entries(1);
    uint64_t n = 0;
    for (; it.Valid(); it.Next())
      ++n;
    EXPECT_TRUE(it.status().ok()) << it.status().ToString();
    EXPECT_GE(n, range->second);  // a prefix, contiguous
    seen = range->second;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE((*reader)->CatchUp().ok());
  }
  stop = true;
  writer.join();
  ASSERT_TRUE((*reader)->CatchUp().ok());
  EXPECT_EQ((*reader)->Range()->second, (*j)->last_seq());
  EXPECT_GT(seen, 200u);
}

TEST(Journal, ACheckpointOpensOnItsOwnAndFoldsToTheSameState) {
  TempDir dir, copies;
  const auto& h = History();
  auto j = Journal::Open(Options(dir.path()));
  ASSERT_TRUE(j.ok());
  v1::State state = InitialState();
  WriteAll(j->get(), h, 0, 1000, 50, &state);
  ASSERT_TRUE((*j)->Checkpoint(copies / "cp").ok());
  WriteAll(j->get(), h, 1000, 1100, 50, &state);  // the writer carries on
  Store::Options ro;
  auto copy = Store::Open(copies / "cp", ro);
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ((*copy)->Range()->second, 1000u);
  EXPECT_EQ(Bytes(*(*copy)->StateAt(1000)), Bytes(FoldPrefix(h, 1000)));
}

}  // namespace
}  // namespace drop::journal

namespace drop::journal {
namespace {

// The recorded history repeated until it is `at_least` entries long: enough for the read-ahead.
std::vector<v1::Entry> LongHistory(size_t at_least) {
  const auto& h = History();
  std::vector<v1::Entry> out;
  for (int64_t round = 0; out.size() < at_least; ++round) {
    for (const v1::Entry& e : h) {
      out.push_back(e);
      out.back().set_seq(out.size());
      out.back().set_time_ms(e.time_ms() + round * 86'400'000);
    }
  }
  return out;
}

// A journal in a directory of its own holding `entries`, written in batches of `batch`, with no
// snapshots: every read goes through the entries.
struct Written {
  TempDir dir;
  std::unique_ptr<Journal> journal;
  const Store& store() const { return journal->store(); }

  Written(const std::vector<v1::Entry>& entries, size_t batch) {
    JournalOptions o = Options(dir.path());
    o.snapshot_every_entries = ~uint64_t{0};
    auto j = Journal::Open(o);
    EXPECT_TRUE(j.ok()) << j.status().ToString();
    if (!j.ok()) return;
    journal = std::move(*j);
    v1::State state = InitialState();
    WriteAll(journal.get(), entries, 0, entries.size(), batch, &state);
  }
};

v1::State FoldRange(const std::vector<v1::Entry>& entries, uint64_t from, uint64_t to) {
  v1::State state = FoldPrefix(entries, from - 1);
  for (uint64_t seq = from; seq <= to; ++seq)
    Apply(entries[seq - 1], &state);
  return state;
}

TEST(Journal, FoldingARangeReadAheadEqualsApplyingEachEntry) {
  const std::vector<v1::Entry> h = LongHistory(20'000);
  Written w(h, 512);
  ASSERT_TRUE(w.journal != nullptr);
  const Store& store = w.store();
  const uint64_t n = h.size();
  // Long ranges read ahead on a second thread and take only the envelope of the entries the
  // fold reads nothing else of; short ones go entry by entry. Both must fold what Apply does.
  for (auto [from, to] : {std::pair<uint64_t, uint64_t>{1, n},
                          {1, n / 2 + 17},
                          {4'001, n},
                          {777, 777 + 100},
                          {n, n}}) {
    v1::State folded = FoldPrefix(h, from - 1);
    Status s = store.Fold(from, to, &folded);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(Bytes(folded), Bytes(FoldRange(h, from, to))) << from << ".." << to;
  }
}

TEST(Journal, ReadAheadHandsOverWhatTheFilterAsksForInOrder) {
  const std::vector<v1::Entry> h = LongHistory(5'000);
  Written w(h, 100);
  ASSERT_TRUE(w.journal != nullptr);
  const Store& store = w.store();

  // Whole entries of an even size, the envelope of the rest.
  auto filter = [](std::string_view bytes) {
    return bytes.size() % 2 == 0 ? ReadAhead::Need::kWhole : ReadAhead::Need::kEnvelope;
  };
  ReadAhead all(store, 10, h.size() - 10, filter);
  uint64_t expect = 10;
  while (const std::vector<const v1::Entry*>* chunk = all.Next()) {
    for (const v1::Entry* e : *chunk) {
      const v1::Entry& want = h[expect - 1];
      ASSERT_EQ(e->seq(), expect);
      EXPECT_EQ(e->time_ms(), want.time_ms());
      EXPECT_EQ(e->reconcile_id(), want.reconcile_id());
      if (want.ByteSizeLong() % 2 == 0) {
        EXPECT_EQ(Bytes(*e), Bytes(want)) << expect;
      } else {
        EXPECT_EQ(e->kind_case(), v1::Entry::KIND_NOT_SET) << expect;
      }
      ++expect;
    }
  }
  EXPECT_TRUE(all.status().ok()) << all.status().ToString();
  EXPECT_EQ(expect, h.size() - 9);

  // A skim sees the envelope decoded and sets what it takes; without a skim, the entry is whole.
  auto skim_odd = [](std::string_view bytes) {
    return bytes.size() % 2 == 1 ? ReadAhead::Need::kSkim : ReadAhead::Need::kEnvelope;
  };
  auto mark = [](std::string_view, v1::Entry* e) {
    if (e->seq() == 0) return false;  // the envelope comes first
    e->mutable_relist_begin();
    return true;
  };
  for (bool with_skim : {true, false}) {
    ReadAhead skimmed(store, 1, h.size(), skim_odd, with_skim ? +mark : nullptr);
    size_t skims = 0;
    while (const std::vector<const v1::Entry*>* chunk = skimmed.Next()) {
      for (const v1::Entry* e : *chunk) {
        const v1::Entry& want = h[e->seq() - 1];
        if (want.ByteSizeLong() % 2 == 0) {
          EXPECT_EQ(e->kind_case(), v1::Entry::KIND_NOT_SET) << e->seq();
        } else if (with_skim) {
          EXPECT_TRUE(e->has_relist_begin()) << e->seq();
          ++skims;
        } else {
          EXPECT_EQ(Bytes(*e), Bytes(want)) << e->seq();
        }
      }
    }
    EXPECT_TRUE(skimmed.status().ok()) << skimmed.status().ToString();
    EXPECT_EQ(skims > 100, with_skim);
  }

  // Skipped entries are not handed over; a reader that stops early ends cleanly.
  ReadAhead odd(store, 1, h.size(), [](std::string_view bytes) {
    return bytes.size() % 2 == 1 ? ReadAhead::Need::kWhole : ReadAhead::Need::kNothing;
  });
  size_t taken = 0;
  while (const std::vector<const v1::Entry*>* chunk = odd.Next()) {
    for (const v1::Entry* e : *chunk)
      EXPECT_EQ(h[e->seq() - 1].ByteSizeLong() % 2, 1u);
    if ((taken += chunk->size()) > 1000) break;
  }
  EXPECT_GT(taken, 1000u);
}

TEST(Journal, AFoldStopsAtADamagedOrMissingEntryAndNamesIt) {
  const std::vector<v1::Entry> h = LongHistory(12'000);
  Written w(h, 500);
  ASSERT_TRUE(w.journal != nullptr);
  const Store& store = w.store();
  rocksdb::DB* db = store.db();

  // A value that is not an Entry (a length that runs past the end).
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), store.entries(), EncodeSeq(9'000), "\x52\x7f").ok());
  v1::State folded = InitialState();
  Status s = store.Fold(1, h.size(), &folded);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("entry 9000 does not decode"), std::string::npos) << s.ToString();
  EXPECT_EQ(folded.last_seq(), 8'999u);  // everything before it, nothing after

  // An envelope-only entry (an Event) whose bytes are not well formed.
  uint64_t event = 0;
  for (uint64_t seq = 2'000; seq < 8'000 && event == 0; ++seq) {
    const v1::Entry& e = h[seq - 1];
    if (e.has_action() && e.action().has_emit_event()) event = seq;
  }
  ASSERT_NE(event, 0u);
  std::string bad = h[event - 1].SerializeAsString();
  bad.resize(bad.size() - 3);  // its Event runs past the end
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), store.entries(), EncodeSeq(event), bad).ok());
  folded = InitialState();
  s = store.Fold(1, h.size(), &folded);
  EXPECT_NE(s.message().find("entry " + std::to_string(event) + " does not decode"),
            std::string::npos)
      << s.ToString();

  // A gap.
  ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), store.entries(), EncodeSeq(1'500)).ok());
  folded = InitialState();
  s = store.Fold(1, h.size(), &folded);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("entries 1500..1500 are missing"), std::string::npos) << s.ToString();
  EXPECT_EQ(folded.last_seq(), 1'499u);
}

TEST(Journal, AnIteratorThatDecodesOnDemandHandsBytesAndDecodesWhatItIsAskedFor) {
  const std::vector<v1::Entry> h = LongHistory(3'000);
  Written w(h, 1'000);
  ASSERT_TRUE(w.journal != nullptr);
  const Store& store = w.store();

  Store::Iterator it = store.Entries(1, h.size(), Store::Decode::kOnDemand);
  uint64_t seq = 0;
  for (; it.Valid(); it.Next()) {
    ++seq;
    ASSERT_EQ(it.bytes(), h[seq - 1].SerializeAsString()) << "entry " << seq;
    if (seq % 3 != 0) continue;  // the rest are never decoded
    ASSERT_TRUE(it.Decode());
    ASSERT_TRUE(it.Decode()) << "a second call decodes nothing more";
    EXPECT_EQ(it.entry().SerializeAsString(), h[seq - 1].SerializeAsString());
  }
  EXPECT_TRUE(it.status().ok()) << it.status().ToString();
  EXPECT_EQ(seq, h.size());

  // A damaged value passes until it is decoded, and then ends the iteration, named.
  ASSERT_TRUE(
      store.db()->Put(rocksdb::WriteOptions(), store.entries(), EncodeSeq(2'000), "\x52\x7f").ok());
  Store::Iterator lazy = store.Entries(1'999, h.size(), Store::Decode::kOnDemand);
  ASSERT_TRUE(lazy.Valid());
  lazy.Next();
  ASSERT_TRUE(lazy.Valid()) << "not decoded yet";
  EXPECT_FALSE(lazy.Decode());
  EXPECT_FALSE(lazy.Valid());
  EXPECT_NE(lazy.status().message().find("entry 2000 does not decode"), std::string::npos)
      << lazy.status().ToString();
  Store::Iterator each = store.Entries(1'999, h.size());
  ASSERT_TRUE(each.Valid());
  each.Next();
  EXPECT_FALSE(each.Valid()) << "decoding each entry stops at it";
  EXPECT_EQ(each.status().code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace drop::journal
