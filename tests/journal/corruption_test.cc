// Damage on disk: bytes flipped in a table file or in the write-ahead log, and a WAL torn at its
// tail. A torn tail recovers to the last whole batch; damage anywhere else stops the open with an
// error naming the file, the entries and what to do. Nothing crashes, nothing reads garbage.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "journal/journal.h"
#include "tests/journal/run_crash_child.h"
#include "tests/support/temp_dir.h"

namespace drop::journal {
namespace {
namespace fs = std::filesystem;

// Lets the crash test's writer fill `dir` until it has acknowledged a few batches and `ms` more,
// then kills it: its newest entries are left in the write-ahead log, as after a real crash.
// (Waiting for acknowledgements keeps a slow start on a loaded machine from leaving a journal
// too short for the test.)
void WriteThenCrash(const std::string& dir, int ms) {
  RunCrashChild(dir, 3, ms);
}

fs::path Largest(const std::string& dir, const std::string& ext) {
  fs::path best;
  uintmax_t size = 0;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() == ext && f.file_size() > size) {
      best = f.path();
      size = f.file_size();
    }
  }
  return best;
}

// The newest write-ahead log in `dir`: the one that holds the journal's tail.
fs::path NewestWal(const std::string& dir) {
  fs::path newest;
  for (const auto& f : fs::directory_iterator(dir)) {
    if (f.path().extension() != ".log") continue;
    if (newest.empty() ||
        std::stoull(f.path().stem().string()) > std::stoull(newest.stem().string()))
      newest = f.path();
  }
  return newest;
}

// Where each whole record of a RocksDB write-ahead log ends, in order, read from the log's format:
// 32 KiB blocks of records, each a 7-byte header (checksum, length, type) and its bytes, a write
// batch in one record or in first, middle and last fragments. (The journal never recycles logs,
// whose headers are longer.) A record a crash tore is left out.
std::vector<uintmax_t> WholeRecordEnds(const fs::path& wal) {
  constexpr size_t kBlock = 32768, kHeader = 7;
  constexpr int kFull = 1, kLast = 4;
  std::ifstream in(wal, std::ios::binary);
  std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<uintmax_t> ends;
  size_t at = 0;
  while (at < log.size()) {
    size_t left = kBlock - at % kBlock;
    if (left < kHeader) {  // the block's trailer: zeros
      at += left;
      continue;
    }
    if (at + kHeader > log.size()) break;
    auto byte = [&](size_t i) { return static_cast<unsigned char>(log[at + i]); };
    size_t length = byte(4) | (byte(5) << 8);
    int type = byte(6);
    if (type == 0 && length == 0) break;  // space written ahead of the records
    size_t end = at + kHeader + length;
    if (end > log.size()) break;  // torn
    if (type == kFull || type == kLast) ends.push_back(end);
    at = end;
  }
  return ends;
}

// The last entry a reader of `dir` finds; 0, and a test failure saying why, when it cannot read.
uint64_t LastSeq(const std::string& dir) {
  Store::Options ro;
  auto store = Store::Open(dir, ro);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return 0;
  auto range = (*store)->Range();
  EXPECT_TRUE(range.ok()) << range.status().ToString();
  return range.ok() ? range->second : 0;
}

void Flip(const fs::path& file, uintmax_t at, int count) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  for (int i = 0; i < count; ++i) {
    f.seekg(static_cast<std::streamoff>(at + i));
    char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(at + i));
    f.put(static_cast<char>(c ^ 0x5a));
  }
}

Result<std::unique_ptr<Journal>> Open(const std::string& dir, bool salvage = false) {
  JournalOptions o;
  o.dir = dir;
  o.salvage = salvage;
  return Journal::Open(o);
}

bool Contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

TEST(Corruption, FlippedBytesInATableFileStopTheOpenNamingFileAndEntries) {
  drop::testing::TempDir dir;
  WriteThenCrash(dir.path(), 400);
  {
    auto j = Open(dir.path());
    ASSERT_TRUE(j.ok()) << j.status().ToString();
    const Store& store = (*j)->store();
    ASSERT_TRUE(store.db()->Flush(rocksdb::FlushOptions(), store.entries()).ok());
  }
  fs::path sst = Largest(dir.path(), ".sst");
  ASSERT_FALSE(sst.empty());
  Flip(sst, fs::file_size(sst) / 3, 64);
  auto j = Open(dir.path());
  ASSERT_FALSE(j.ok());
  const Status& s = j.status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_TRUE(Contains(s, "table file " + sst.filename().string() + " (entries ")) << s.message();
  EXPECT_TRUE(Contains(s, "Restore the directory from a backup")) << s.message();
  // A reader that skips the up-front check still meets the damage as an error, not as garbage.
  Store::Options ro;
  auto store = Store::Open(dir.path(), ro);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Store::Iterator it = (*store)->Entries(1);
  while (it.Valid())
    it.Next();
  EXPECT_EQ(it.status().code(), Status::Code::kCorruption) << it.status().ToString();
}

TEST(Corruption, FlippedBytesInTheMiddleOfTheWalStopTheOpenSayingWhatIsIntact) {
  drop::testing::TempDir dir;
  WriteThenCrash(dir.path(), 300);
  fs::path wal = Largest(dir.path(), ".log");
  ASSERT_FALSE(wal.empty());
  ASSERT_GT(fs::file_size(wal), 64u * 1024) << "the test needs a WAL with many batches";
  Flip(wal, fs::file_size(wal) / 2, 16);
  auto j = Open(dir.path());
  ASSERT_FALSE(j.ok());
  const Status& s = j.status();
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.ToString();
  EXPECT_TRUE(Contains(s, "write-ahead log " + wal.filename().string())) << s.message();
  EXPECT_TRUE(Contains(s, "are intact; the damage is in entries after")) << s.message();
  EXPECT_TRUE(Contains(s, "drop-replay --salvage reads the entries before the damage"))
      << s.message();

  // --salvage keeps what precedes the damage: a contiguous prefix of whole batches.
  auto salvaged = Open(dir.path(), /*salvage=*/true);
  ASSERT_TRUE(salvaged.ok()) << salvaged.status().ToString();
  v1::State state = (*salvaged)->TakeRecoveredState();
  EXPECT_GT(state.last_seq(), 0u);
  Store::Iterator it = (*salvaged)->store().Entries(1);
  uint64_t n = 0;
  for (; it.Valid(); it.Next())
    ++n;
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(n, state.last_seq());
}

TEST(Corruption, AWalTornAtItsTailRecoversToTheLastWholeBatch) {
  drop::testing::TempDir dir;
  WriteThenCrash(dir.path(), 300);
  const uint64_t before = LastSeq(dir.path());
  ASSERT_GT(before, 0u);
  // The last whole record loses its end. The crash may itself have torn the record after it,
  // which `before` already leaves out, and the last whole ones may hold snapshots, not entries:
  // the cut goes back a record at a time until it takes entries.
  fs::path wal = NewestWal(dir.path());
  ASSERT_FALSE(wal.empty());
  std::vector<uintmax_t> ends = WholeRecordEnds(wal);
  bool cut = false;
  for (auto end = ends.rbegin(); end != ends.rend() && !cut; ++end) {
    fs::resize_file(wal, *end - 7);
    cut = LastSeq(dir.path()) < before;
  }
  ASSERT_TRUE(cut) << wal << ": no record holds the last entries";
  auto j = Open(dir.path());
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  v1::State state = (*j)->TakeRecoveredState();
  EXPECT_LT(state.last_seq(), before);
  EXPECT_GT(state.last_seq(), 0u);
  uint64_t n = 0;
  Store::Iterator it = (*j)->store().Entries(1);
  for (; it.Valid(); it.Next()) {
    ++n;
    unsigned long first = 0, size = 0, index = 0;
    ASSERT_EQ(
        std::sscanf(it.entry().timer().key().name().c_str(), "%lu/%lu/%lu", &first, &size, &index),
        3);
    ASSERT_LE(first + size - 1, state.last_seq()) << "a batch survives in part";
  }
  EXPECT_EQ(n, state.last_seq());
}

}  // namespace
}  // namespace drop::journal
