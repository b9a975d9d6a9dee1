// drop-replay verify: clean on the journals the core writes (from the start, across snapshots,
// after retention), and an altered decision is caught at its sequence number.
#include "replay/verify.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "core/build.h"
#include "core/step.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "journal/store.h"
#include "replay/reader.h"
#include "tests/replay/recorded.h"
#include "tests/replay/tool.h"
#include "tests/support/random_world.h"

namespace drop::replay {
namespace {

using testing::Replay;
using testing::TempDir;

const std::vector<v1::Entry>& Demo() {
  static const std::vector<v1::Entry> journal = testing::DemoJournal();
  return journal;
}

// A random history; seeds above 100 have RandomWorld's faults (restarts, pods gone or replaced
// unseen, lost answers).
std::vector<v1::Entry> Random(uint64_t seed) {
  testing::RandomWorld random(seed);
  random.faults = seed > 100;
  for (int i = 0; i < 200; ++i)
    random.Step();
  return random.world.journal();
}

// Writes the random history of `seed` to dir/j, with a snapshot every `every` entries.
std::vector<v1::Entry> WriteRandom(const TempDir& dir, uint64_t seed, uint64_t every) {
  testing::WriteOptions o;
  o.snapshot_every_entries = every;
  std::vector<v1::Entry> journal = Random(seed);
  EXPECT_TRUE(testing::WriteJournal(journal, dir / "j", o).ok());
  return journal;
}

// Verifies the journal in dir/j on `jobs` threads (0: one per core).
Result<VerifyReport> VerifyJournal(const TempDir& dir, int jobs = 0) {
  auto reader = Reader::Open(dir / "j");
  if (!reader.ok()) return reader.status();
  VerifyOptions vo;
  vo.jobs = jobs;
  return Verify(**reader, vo);
}

// The test tool that alters the journal: rewrites entry `seq` in place through RocksDB.
template <typename Mutate>
void RewriteEntry(const std::string& dir, uint64_t seq, Mutate mutate) {
  journal::Store::Options rw;
  rw.mode = journal::Store::Mode::kReadWrite;
  auto store = journal::Store::Open(dir, rw);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<v1::Entry> e = (*store)->Get(seq);
  ASSERT_TRUE(e.ok());
  v1::Entry altered = *e;
  mutate(&altered);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(
      (*store)
          ->db()
          ->Put(sync, (*store)->entries(), journal::EncodeSeq(seq), altered.SerializeAsString())
          .ok());
}

// The seq of the n-th entry that `pick` selects.
template <typename Pick>
uint64_t Nth(const std::vector<v1::Entry>& journal, int n, Pick pick) {
  for (const v1::Entry& e : journal) {
    if (pick(e) && n-- == 0) return e.seq();
  }
  return 0;
}

TEST(Verify, TheDemoJournalIsCleanAndExitsZero) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verify: clean"), std::string::npos) << r.out;
  // Without snapshots the journal is one stretch, for one thread: --jobs 4 says why it got one.
  testing::Run jobs = Replay(dir / "j", {"verify", "--jobs", "4"});
  EXPECT_NE(jobs.out.find(" on 1 thread (not 4: threads check the stretches between snapshots "
                          "apart, and this range has 1)"),
            std::string::npos)
      << jobs.out;
  testing::Run nothing = Replay(dir / "j", {"verify", "--to", "0"});
  EXPECT_EQ(nothing.exit_code, 2) << nothing.out;
  EXPECT_NE(nothing.err.find("--to 0 is entry 0, before entry 1: nothing to verify"),
            std::string::npos)
      << nothing.err;
}

// A range is checked from the snapshot before it, and the report says so.
TEST(Verify, ARangeSaysWhereItsCheckStartedAndEnded) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, 4, 700);
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  // From 1000, past the first snapshot, to an input that has decisions.
  const uint64_t to = Nth(journal, 0, [&](const v1::Entry& e) {
    return e.seq() > 1200 && e.seq() < journal.size() && !IsDecision(e) &&
           IsDecision(journal[e.seq()]);
  });
  ASSERT_NE(to, 0u);
  uint64_t last = to;
  while (last < journal.size() && IsDecision(journal[last]))
    ++last;
  uint64_t snapshot = 0;
  Result<std::vector<journal::Store::SnapshotInfo>> listed = (*reader)->store().Snapshots();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const journal::Store::SnapshotInfo& i : *listed)
    snapshot = i.seq <= 1000 ? std::max(snapshot, i.seq) : snapshot;
  ASSERT_GT(snapshot, 0u);
  // --from is a point: the state after entry 1000, so the entries asked for start at 1001.
  testing::Run r = Replay(dir / "j", {"verify", "--from", "1000", "--to", std::to_string(to)});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  const std::string checked =
      "Entries " + std::to_string(snapshot + 1) + ".." + std::to_string(last) + " ";
  EXPECT_NE(r.out.find("verify: clean. " + checked), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("note: asked for entries 1001.." + std::to_string(to) +
                 "; the check starts from the snapshot after entry " + std::to_string(snapshot) +
                 ", the newest before it, and runs on to entry " + std::to_string(last) +
                 ", the last decision of the inputs it was asked "
                 "for."),
      std::string::npos)
      << r.out;
  // Before the first snapshot the check starts at the journal's start; --to alone moves no start.
  testing::Run early = Replay(dir / "j", {"verify", "--from", "10", "--to", std::to_string(to)});
  EXPECT_NE(early.out.find("; the check starts at entry 1, as no snapshot comes before entry 11, "
                           "and runs on to entry " +
                           std::to_string(last)),
            std::string::npos)
      << early.out;
  testing::Run to_only = Replay(dir / "j", {"verify", "--to", std::to_string(to)});
  EXPECT_NE(to_only.out.find("note: asked for entries 1.." + std::to_string(to) +
                             "; the check runs on to entry " + std::to_string(last) + ", "),
            std::string::npos)
      << to_only.out;
}

// A journal with no entries has nothing to verify: that is not "clean".
TEST(Verify, AJournalWithNoEntriesIsNotCalledClean) {
  TempDir dir;
  journal::JournalOptions o;
  o.dir = dir / "j";
  ASSERT_TRUE(journal::Journal::Open(o).ok());
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(r.out.find("clean"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("has no entries"), std::string::npos) << r.err;
}

// The operator decided through the core's index; --walk recomputes without it.
TEST(Verify, TheDemoJournalIsCleanWhenRecomputedByWalkingTheState) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"verify", "--walk"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("verify: clean"), std::string::npos) << r.out;
}

TEST(Verify, RandomHistoriesAreCleanAcrossSnapshotsOnSeveralThreads) {
  for (uint64_t seed : {1, 2, 3, 101, 102}) {
    TempDir dir;
    const std::vector<v1::Entry> journal = WriteRandom(dir, seed, 700);
    auto reader = Reader::Open(dir / "j");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    for (bool walk : {false, true}) {
      VerifyOptions vo;
      vo.jobs = 3;
      vo.walk = walk;
      Result<VerifyReport> report = Verify(**reader, vo);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      EXPECT_TRUE(report->clean())
          << "seed " << seed << (walk ? " walking" : "") << " diverges at "
          << (report->divergence ? report->divergence->seq : 0) << " " << report->snapshot_mismatch;
      EXPECT_GT(report->snapshots_checked, 1) << "seed " << seed;
      EXPECT_EQ(report->first, 1u);
      EXPECT_EQ(report->last, journal.size());
      EXPECT_EQ(report->inputs + report->decisions, journal.size());
    }
  }
}

// A thread checks several segments in a row, carrying its state from one to the next; the first
// divergence still ends the check where it is, whichever run it falls in.
TEST(Verify, RunsOfSegmentsCheckEverySnapshotAndStopAtTheFirstDivergence) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, 5, 100);
  size_t snapshots = 0;
  {
    auto reader = Reader::Open(dir / "j");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    Result<std::vector<journal::Store::SnapshotInfo>> listed = (*reader)->store().Snapshots();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    for (const journal::Store::SnapshotInfo& s : *listed)
      snapshots += s.seq < journal.size();
    ASSERT_GE(snapshots, 12u) << "runs of several segments on two threads";
    VerifyOptions vo;
    vo.jobs = 2;
    Result<VerifyReport> report = Verify(**reader, vo);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_TRUE(report->clean());
    EXPECT_EQ(static_cast<size_t>(report->snapshots_checked), snapshots);
    EXPECT_EQ(report->inputs + report->decisions, journal.size());
    EXPECT_EQ(report->gone_through, journal.size());
  }
  // Inside the third quarter: the middle of a run that does not start the journal.
  uint64_t seq = 0;
  for (const v1::Entry& e : journal) {
    if (e.seq() > journal.size() * 5 / 8 && e.has_pacing()) {
      seq = e.seq();
      break;
    }
  }
  ASSERT_GT(seq, 0u);
  RewriteEntry(dir / "j", seq,
               [](v1::Entry* e) { e->mutable_pacing()->set_active(e->pacing().active() + 1); });
  Result<VerifyReport> report = VerifyJournal(dir, 2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, seq);
  EXPECT_LT(static_cast<size_t>(report->snapshots_checked), snapshots);
  EXPECT_GT(report->snapshots_checked, 0);
  // The speed counts the entries gone through, not the range: one thread stops at the divergence.
  Result<VerifyReport> alone = VerifyJournal(dir, 1);
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ(alone->gone_through, seq);
  EXPECT_LT(alone->gone_through, alone->last);
}

// Verifies a random history under each of `options`: clean; then, with a decision in its third
// quarter altered (in a run's second segment or later, or in a run split off another), diverged
// at that decision.
void ChecksTheSame(uint64_t seed, const std::vector<VerifyOptions>& options) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, seed, 100);
  const uint64_t seq = Nth(journal, 0, [&](const v1::Entry& e) {
    return e.has_pacing() && e.seq() > journal.size() * 5 / 8;
  });
  ASSERT_GT(seq, 0u);
  for (bool altered : {false, true}) {
    if (altered) {
      RewriteEntry(dir / "j", seq,
                   [](v1::Entry* e) { e->mutable_pacing()->set_active(e->pacing().active() + 1); });
    }
    auto reader = Reader::Open(dir / "j");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    for (const VerifyOptions& vo : options) {
      const std::string how = std::to_string(vo.jobs) + " threads, " + std::to_string(vo.runs) +
                              " runs, arena growth " + std::to_string(vo.arena_growth);
      Result<VerifyReport> report = Verify(**reader, vo);
      ASSERT_TRUE(report.ok()) << report.status().ToString();
      if (!altered) {
        EXPECT_TRUE(report->clean())
            << how << ": diverges at " << (report->divergence ? report->divergence->seq : 0) << " "
            << report->snapshot_mismatch;
        EXPECT_GE(report->snapshots_checked, 12) << how;
        EXPECT_EQ(report->inputs + report->decisions, journal.size()) << how;
      } else {
        ASSERT_TRUE(report->divergence.has_value()) << how;
        EXPECT_EQ(report->divergence->seq, seq) << how;
      }
    }
  }
}

// A thread that runs out of work takes the back half of another's run, from the snapshot where it
// begins: started in one run on three threads, the work is all split so, and checks the same.
// Asked for more runs than threads, it starts one a thread.
TEST(Verify, ThreadsThatSplitAnotherThreadsRunCheckTheSame) {
  VerifyOptions one_run, more_runs;
  one_run.jobs = 3;
  one_run.runs = 1;
  more_runs.jobs = 2;
  more_runs.runs = 5;
  ChecksTheSame(7, {one_run, more_runs});
}

// A run's State moves to a fresh arena once its arena has grown enough (see
// VerifyOptions::arena_growth); moved at every snapshot, it checks the same.
TEST(Verify, AStateMovedToAFreshArenaAtEverySnapshotChecksTheSame) {
  std::vector<VerifyOptions> options;
  for (int jobs : {1, 2}) {
    VerifyOptions vo;
    vo.jobs = jobs;
    vo.arena_growth = 0;
    options.push_back(vo);
  }
  ChecksTheSame(6, options);
}

// Snapshots are compared by their bytes; bytes that differ but decode to the fold are no mismatch.
TEST(Verify, ASnapshotThatIsNotTheFoldOfItsEntriesIsReportedByItsEntry) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, 6, 300);
  std::vector<uint64_t> at;
  {
    auto reader = Reader::Open(dir / "j");
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    Result<std::vector<journal::Store::SnapshotInfo>> listed = (*reader)->store().Snapshots();
    ASSERT_TRUE(listed.ok()) << listed.status().ToString();
    for (const journal::Store::SnapshotInfo& s : *listed) {
      if (s.seq < journal.size()) at.push_back(s.seq);
    }
  }
  ASSERT_GE(at.size(), 3u);
  {
    journal::Store::Options rw;
    rw.mode = journal::Store::Mode::kReadWrite;
    auto store = journal::Store::Open(dir / "j", rw);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto rewrite = [&](uint64_t seq, auto change) {
      Result<std::string> bytes = (*store)->SnapshotBytes(seq);
      ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
      std::string changed = change(*bytes);
      ASSERT_TRUE((*store)
                      ->db()
                      ->Put(rocksdb::WriteOptions(), (*store)->snapshots(), journal::EncodeSeq(seq),
                            changed)
                      .ok());
    };
    // The first: other bytes, the same State (a field written twice decodes to its last value).
    rewrite(at[0], [](const std::string& b) {
      v1::State s;
      EXPECT_TRUE(s.ParseFromString(b));
      v1::State again;
      again.set_last_seq(s.last_seq());
      return b + again.SerializeAsString();
    });
    // The second: another State.
    rewrite(at[1], [](const std::string& b) {
      v1::State s;
      EXPECT_TRUE(s.ParseFromString(b));
      s.set_last_time_ms(s.last_time_ms() + 1);
      return s.SerializeAsString();
    });
  }
  Result<VerifyReport> report = VerifyJournal(dir, 1);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->divergence.has_value());
  EXPECT_EQ(report->snapshot_mismatch, "the snapshot after entry " + std::to_string(at[1]) +
                                           " is not the fold of the entries before it");
  // Written by another build (the simulated cluster's "test"), which may fold otherwise by
  // design: the finding says so, as a divergence does.
  testing::Run cli = Replay(dir / "j", {"verify", "--jobs", "1"});
  EXPECT_EQ(cli.exit_code, 1) << cli.err;
  EXPECT_NE(cli.out.find("verify: FINDING. the snapshot after entry " + std::to_string(at[1])),
            std::string::npos)
      << cli.out;
  EXPECT_NE(cli.out.find("The snapshot was recorded by drop test; this drop-replay is "),
            std::string::npos)
      << cli.out;
}

// The snapshots are the ones the meta records list, which verify checks: one stored without a
// record is never used, and one listed but gone is damage, not a reason to skip a check.
TEST(Verify, OnlyListedSnapshotsAreUsedAndAListedOneThatIsGoneIsDamage) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, 7, 300);
  journal::Store::Options rw;
  rw.mode = journal::Store::Mode::kReadWrite;
  auto store = journal::Store::Open(dir / "j", rw);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<uint64_t> at;
  Result<std::vector<journal::Store::SnapshotInfo>> listed = (*store)->Snapshots();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  for (const journal::Store::SnapshotInfo& s : *listed)
    at.push_back(s.seq);
  ASSERT_GE(at.size(), 3u);
  const uint64_t point = at[0] + 10;
  ASSERT_LT(point, at[1]);
  Result<v1::State> before = (*store)->StateAt(point);
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  v1::State stray = *before;  // a snapshot with no meta record, of a State drop never had
  stray.set_last_seq(at[0] + 5);
  stray.clear_nodes();
  rocksdb::DB* db = (*store)->db();
  ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), (*store)->snapshots(),
                      journal::EncodeSeq(stray.last_seq()), stray.SerializeAsString())
                  .ok());
  Result<v1::State> after = (*store)->StateAt(point);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->SerializeAsString(), before->SerializeAsString());

  ASSERT_TRUE(
      db->Delete(rocksdb::WriteOptions(), (*store)->snapshots(), journal::EncodeSeq(at[1])).ok());
  const std::string missing =
      "the snapshot at entry " + std::to_string(at[1]) + " is listed but missing";
  Result<v1::State> gone = (*store)->StateAt(at[1] + 1);
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find(missing), std::string::npos) << gone.status().message();
  store->reset();
  for (int jobs : {1, 3}) {
    Result<VerifyReport> report = VerifyJournal(dir, jobs);
    ASSERT_FALSE(report.ok()) << jobs << " jobs: verify took the journal for clean";
    EXPECT_NE(report.status().message().find(missing), std::string::npos)
        << report.status().message();
  }
}

TEST(Verify, ReportsItsProgressAndEndsAtTheTotal) {
  TempDir dir;
  const std::vector<v1::Entry> journal = WriteRandom(dir, 4, 700);
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  VerifyOptions vo;
  vo.jobs = 1;  // the longest run: the reports have time to come
  vo.progress_every = std::chrono::milliseconds(1);
  vo.progress = [&](uint64_t checked, uint64_t total) {
    std::lock_guard lock(mu);
    calls.emplace_back(checked, total);
  };
  Result<VerifyReport> report = Verify(**reader, vo);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_TRUE(report->clean());
  ASSERT_FALSE(calls.empty());
  ASSERT_GT(journal.size(), 2000u);
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i].second, journal.size());
    EXPECT_LE(calls[i].first, calls[i].second);
    if (i > 0) {
      EXPECT_GE(calls[i].first, calls[i - 1].first);
    }
  }
  EXPECT_EQ(calls.back().first, journal.size());  // the last call says it is done
  EXPECT_TRUE(std::any_of(calls.begin(), calls.end() - 1, [&](const auto& c) {
    return c.first > 0 && c.first < journal.size();
  })) << "no report while it ran";

  // Without a callback nothing is reported and the result is the same.
  Result<VerifyReport> quiet = Verify(**reader, VerifyOptions());
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->inputs, report->inputs);
}

TEST(Verify, AJournalThatStartsAtASnapshotAfterRetentionIsClean) {
  TempDir dir;
  testing::WriteOptions o;
  o.snapshot_every_entries = 500;
  o.retention_age_ms = 5 * 60 * 1000;
  const std::vector<v1::Entry> journal = Random(4);
  ASSERT_TRUE(testing::WriteJournal(journal, dir / "j", o).ok());
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok());
  ASSERT_GT((*reader)->first(), 1u) << "retention should have dropped a prefix";
  Result<VerifyReport> report = Verify(**reader, VerifyOptions{});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->first, (*reader)->first());
  EXPECT_EQ(report->unverifiable, 0u) << "retention cuts at a snapshot, between two inputs";
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

TEST(Verify, AnAlteredPacingDecisionIsCaughtAtItsSequenceNumber) {
  TempDir dir;
  testing::WriteOptions o;
  o.snapshot_every_entries = 400;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j", o).ok());
  uint64_t seq = Nth(Demo(), 0, [](const v1::Entry& e) {
    return e.has_pacing() && e.pacing().verdict() == v1::WAIT_CONCURRENCY &&
           e.pacing().policy() == "gentle";
  });
  ASSERT_GT(seq, 0u);
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) { e->mutable_pacing()->set_active(4); });
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DIVERGENCE at entry " + std::to_string(seq) + " "), std::string::npos)
      << r.out;
  // Both decisions side by side, the differing line marked, and the input that fed them.
  EXPECT_NE(r.out.find("RECORDED"), std::string::npos);
  EXPECT_NE(r.out.find("RECOMPUTED"), std::string::npos);
  EXPECT_NE(r.out.find("* "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("active: 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("active: 5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("The input that fed them: entry"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pullpolicy/gentle: maxConcurrentNodes 5"), std::string::npos) << r.out;
  // The simulated operator's build ("test") is not this one: a divergence may be by design.
  EXPECT_NE(r.out.find("The input was recorded by drop test; this drop-replay is " +
                       std::string(kBuild) + "."),
            std::string::npos)
      << r.out;

  // -o json says what the text says: the entries that match, and the decisions among them.
  testing::Run json = Replay(dir / "j", {"verify", "-o", "json"});
  EXPECT_EQ(json.exit_code, 1) << json.err;
  boost::json::value doc = boost::json::parse(json.out);
  EXPECT_EQ(doc.at("divergence").at("seq").to_number<uint64_t>(), seq);
  EXPECT_EQ(doc.at("divergence").at("recordedBy").as_string(), "test");
  EXPECT_EQ(doc.at("matchedThrough").to_number<uint64_t>(), seq - 1);
  const std::string matched = "Entries 1.." + std::to_string(seq - 1) + " match (" +
                              std::to_string(doc.at("inputs").to_number<uint64_t>()) + " inputs, " +
                              std::to_string(doc.at("decisions").to_number<uint64_t>()) +
                              " decisions)";
  EXPECT_NE(r.out.find(matched), std::string::npos) << matched << "\n" << r.out;

  // Asked for a range after it (--from a point: the entries after it), the check starts before
  // the range and says it found this there.
  if (seq + 10 < 400) {  // before the first snapshot
    testing::Run later = Replay(dir / "j", {"verify", "--from", std::to_string(seq + 10)});
    EXPECT_EQ(later.exit_code, 1) << later.out << later.err;
    const std::string first = std::to_string(seq + 11);
    EXPECT_NE(
        later.out.find("note: asked for entries " + first + ".." + std::to_string(Demo().size()) +
                       "; the check starts at entry 1, as no snapshot comes before entry " + first +
                       ", and found this before them.\n"),
        std::string::npos)
        << later.out;
  }
}

// A divergence on a journal this very build recorded is no change between builds, unless the
// build has local changes, which two builds can name alike.
TEST(Verify, ADivergenceOnAJournalOfThisBuildNamesNoOtherBuild) {
  TempDir dir;
  std::vector<v1::Entry> journal = Demo();
  for (v1::Entry& e : journal) {
    if (e.has_started()) e.mutable_started()->mutable_config()->set_version(kBuild);
  }
  ASSERT_TRUE(testing::WriteJournal(journal, dir / "j").ok());
  uint64_t seq = Nth(journal, 0, [](const v1::Entry& e) {
    return e.has_pacing() && e.pacing().verdict() == v1::WAIT_CONCURRENCY;
  });
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) { e->mutable_pacing()->set_active(4); });
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_EQ(r.out.find("recorded by drop"), std::string::npos) << r.out;
  const bool dirty = std::string_view(kBuild).ends_with(".dirty");
  EXPECT_EQ(r.out.find("The input was recorded by a build named as this one, " +
                       std::string(kBuild) + ", which has local changes") != std::string::npos,
            dirty)
      << r.out;
}

TEST(Verify, AnAlteredStatusWriteIsCaughtAtItsSequenceNumber) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  uint64_t seq = Nth(Demo(), 5, [](const v1::Entry& e) {
    return e.has_action() && e.action().has_patch_status();
  });
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    auto* s = e->mutable_action()->mutable_patch_status()->mutable_status();
    s->set_nodes_ready(s->nodes_ready() + 1);
  });
  testing::Run r = Replay(dir / "j", {"verify", "-o", "json"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("\"result\": \"diverged\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"seq\": " + std::to_string(seq)), std::string::npos) << r.out;
}

// A pacing pass that moves a CachedImage's wait writes the image's status within the policy's
// reconcile: a divergence there shows the image's slice of the state beside the policy's, though
// the input triggered no reconcile of the image.
TEST(Verify, AStatusWriteWithinAPolicysReconcileShowsTheImagesSlice) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  std::map<uint64_t, const v1::Entry*> by_seq;
  for (const v1::Entry& e : Demo())
    by_seq[e.seq()] = &e;
  // A status written in a policy's reconcile that a timer of the policy triggered: the input
  // triggers no reconcile of the image.
  uint64_t seq = Nth(Demo(), 0, [&](const v1::Entry& e) {
    auto started = by_seq.find(e.reconcile_id());
    if (!e.has_action() || !e.action().has_patch_status() || started == by_seq.end()) return false;
    const v1::ReconcileStarted& r = started->second->reconcile();
    return r.key().kind() == v1::KIND_PULL_POLICY && by_seq[r.trigger_seq()]->has_timer();
  });
  ASSERT_GT(seq, 0u) << "the demo journal writes no status in a policy's timed reconcile";
  const std::string image = by_seq[seq]->action().patch_status().cached_image();
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    e->mutable_action()->mutable_patch_status()->mutable_status()->set_next_pull_time_ms(1);
  });
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("DIVERGENCE at entry " + std::to_string(seq) + " "), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(", about cachedimage/" + image + ".\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n  cachedimage/" + image + ": "), std::string::npos) << r.out;

  // Where the journal holds an input instead (a build that did not write the status there), the
  // reconcile is Step's: the recorded entry belongs to none.
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    e->clear_reconcile_id();
    e->mutable_timer()->mutable_key()->set_kind(v1::KIND_CACHED_IMAGE);
  });
  testing::Run more = Replay(dir / "j", {"verify"});
  EXPECT_EQ(more.exit_code, 1) << more.out << more.err;
  EXPECT_NE(more.out.find("Step decides more than the journal recorded"), std::string::npos)
      << more.out;
  EXPECT_NE(more.out.find(", about cachedimage/" + image + ".\n"), std::string::npos) << more.out;
}

TEST(Verify, ARecordedLineLongerThanItsColumnIsShownWhole) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  uint64_t seq = Nth(
      Demo(), 0, [](const v1::Entry& e) { return e.has_action() && e.action().has_emit_event(); });
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    e->mutable_action()->mutable_emit_event()->mutable_message()->append(
        std::string(80, '.') + "and the difference lies past the cut");
  });
  testing::Run r = Replay(dir / "j", {"verify"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("(recorded, whole:     message: \""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("and the difference lies past the cut\")\n"), std::string::npos) << r.out;
}

TEST(Verify, ADecisionRemovedFromTheJournalIsCaughtWhereItWasExpected) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  // Turn a recorded decision into a different kind: a requeue becomes an event.
  uint64_t seq = Nth(Demo(), 10,
                     [](const v1::Entry& e) { return e.has_action() && e.action().has_requeue(); });
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    e->mutable_action()->mutable_emit_event()->set_reason("Forged");
  });
  Result<VerifyReport> report = VerifyJournal(dir);
  ASSERT_TRUE(report.ok());
  ASSERT_TRUE(report->divergence.has_value());
  EXPECT_EQ(report->divergence->seq, seq);
  EXPECT_LT(report->divergence->input.seq(), seq);
}

TEST(Verify, AJournalWithFieldsOfANewerDropIsBadInputNotADivergence) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(Demo(), dir / "j").ok());
  uint64_t seq = Nth(Demo(), 3, [](const v1::Entry& e) { return e.has_pacing(); });
  RewriteEntry(dir / "j", seq, [](v1::Entry* e) {
    // A field a later schema added to the pacing decision: this build keeps it as unknown.
    e->mutable_pacing()
        ->GetReflection()
        ->MutableUnknownFields(e->mutable_pacing())
        ->AddVarint(999, 1);
  });
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok());
  Result<VerifyReport> report = Verify(**reader, VerifyOptions{});
  ASSERT_FALSE(report.ok()) << "a decision of a newer drop reported as "
                            << (report.ok() && report->divergence ? "a divergence" : "clean");
  EXPECT_NE(report.status().message().find("entry " + std::to_string(seq)), std::string::npos)
      << report.status().message();
  EXPECT_NE(report.status().message().find("newer drop"), std::string::npos);
}

}  // namespace
}  // namespace drop::replay
