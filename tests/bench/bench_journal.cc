// bench_journal: the journal's speed and size, each beside a baseline measured in the same run.
//   append   durable entries/s of ~200-byte entries at batch sizes 1, 64, 1024, against a plain
//            append-only file written with write + fdatasync at the same batch sizes (the disk's
//            physical limit).                                       target >= 0.7 at batch 64
//            Beside them, bare RocksDB writing the same bytes: how much of the gap is RocksDB's.
//   replay   open + iterate + decode + fold of N entries (default 10 million) of a recorded
//            rollout's mix, against a bare RocksDB iteration of the same keys.
//                                                     target >= 2,000,000/s and >= 0.5 of bare
//   size     bytes on disk per entry of that mix after compaction.   target <= 80
// Usage: bench_journal [--entries N] [--dir DIR] [--only append|replay] [--batch N [--batches M]]
//   --batch measures the append at that one batch size, M batches a round (default 3000).
//   --dir keeps the replay journal there and reuses it when it exists.
#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/fold.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "tests/support/builders.h"
#include "tests/support/temp_dir.h"
#include "tests/support/world.h"

using namespace drop;  // NOLINT(build/namespaces)
using Steady = std::chrono::steady_clock;

namespace {

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

// A pod status change, ~200 bytes serialized: the commonest input.
v1::Entry PodEntry(uint64_t seq) {
  v1::Entry e;
  e.set_seq(seq);
  e.set_time_ms(1'800'000'000'000 + static_cast<int64_t>(seq));
  v1::WatchEvent* w = e.mutable_watch();
  w->set_type(v1::MODIFIED);
  w->set_resource_version(std::to_string(1'000'000 + seq));
  v1::Pod* p = w->mutable_pod();
  p->set_name("drop-ml-runtime-" + std::to_string(0x3f2a910000 + seq % 5000));
  p->set_uid("6f1c2d4e-8a7b-4c3d-9e0f-" + std::to_string(100000000000 + seq));
  p->set_node("ip-10-0-" + std::to_string(seq % 250) + "-" + std::to_string(seq % 97) +
              ".ec2.internal");
  p->set_cached_image("ml-runtime");
  p->set_image("registry.example.com/ml/runtime:2.1.0");
  p->set_generation(3);
  p->set_phase(v1::POD_PENDING);
  p->set_waiting_reason("ContainerCreating");
  p->set_creation_time_ms(1'800'000'000'000);
  p->set_start_time_ms(1'800'000'001'000);
  return e;
}

// Durable appends of `batches` batches of `batch` entries, in entries/s: through the journal, bare
// RocksDB, or a plain file.
enum AppendKind { kJournal, kBareRocksDB, kFile, kAppendKinds };

double Append(AppendKind kind, const std::string& root, int batch, int batches) {
  const std::string one = PodEntry(1).SerializeAsString();
  const double entries = static_cast<double>(batch) * batches;
  drop::testing::TempDir dir;
  if (kind == kJournal) {
    journal::JournalOptions o;
    o.dir = dir.path();
    o.verify_on_open = false;
    auto j = journal::Journal::Open(o);
    if (!j.ok()) {
      std::fprintf(stderr, "%s\n", j.status().ToString().c_str());
      std::exit(2);
    }
    // A batch's entries as the loop hands them over, just made: one batch of them, renumbered for
    // each write (a journal's worth made up front would be read cold from memory).
    std::vector<v1::Entry> made;
    for (int k = 1; k <= batch; ++k)
      made.push_back(PodEntry(static_cast<uint64_t>(k)));
    uint64_t seq = 0;
    journal::Batch b;
    auto start = Steady::now();
    for (int n = 0; n < batches; ++n) {
      b.Clear();
      for (v1::Entry& e : made) {
        e.set_seq(++seq);
        e.set_time_ms(1'800'000'000'000 + static_cast<int64_t>(seq));
        (void)b.Add(e);
      }
      if (!(*j)->Write(b).ok()) std::exit(2);
    }
    return entries / Seconds(start);
  }
  if (kind == kBareRocksDB) {
    // Bare RocksDB as the journal sets up its writer (a vector memtable, one writer at a time),
    // given entries already serialized: the most a journal on RocksDB can reach on this disk.
    rocksdb::Options o;
    o.create_if_missing = true;
    o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
    o.allow_concurrent_memtable_write = false;
    o.write_buffer_size = 32 << 20;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(o, dir.path(), &raw).ok()) std::exit(2);
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::WriteOptions sync;
    sync.sync = true;
    uint64_t seq = 0;
    auto start = Steady::now();
    for (int n = 0; n < batches; ++n) {
      rocksdb::WriteBatch wb;
      for (int k = 0; k < batch; ++k)
        wb.Put(journal::EncodeSeq(++seq), one);
      if (!db->Write(sync, &wb).ok()) std::exit(2);
    }
    return entries / Seconds(start);
  }
  std::string path = root + "/plain.log";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  // The same bytes the journal writes: entry plus an 8-byte key, per entry.
  std::string buf;
  for (int k = 0; k < batch; ++k)
    buf += std::string(8, 'k') + one;
  auto start = Steady::now();
  for (int n = 0; n < batches; ++n) {
    if (write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) std::exit(2);
    fdatasync(fd);
  }
  double rate = entries / Seconds(start);
  close(fd);
  unlink(path.c_str());
  return rate;
}

// The entries of a recorded 500-node rollout (the real core in the simulated cluster).
std::vector<v1::Entry> RecordedMix() {
  using namespace drop::testing;  // NOLINT(build/namespaces)
  World w;
  for (int i = 0; i < 500; ++i) {
    NodeBuilder n("ip-10-0-" + std::to_string(i / 250) + "-" + std::to_string(i % 250) +
                  ".ec2.internal");
    n.Labels({{"pool", i % 4 ? "cpu" : "gpu"},
              {"topology.kubernetes.io/zone", "zone-" + std::to_string(i % 3)}});
    for (int k = 0; k < 50; ++k)
      n.Image("registry.example.com/base/layer-" + std::to_string(k) + ":1");
    w.PutNode(n);
  }
  w.PutPolicy(PolicyBuilder("rollout", 50, 0));
  for (int i = 0; i < 8; ++i) {
    w.PutImage(ImageBuilder("app-" + std::to_string(i),
                            "registry.example.com/team/app-" + std::to_string(i) + ":1.0")
                   .Policy("rollout"));
  }
  int n = 0;
  w.SetBehaviour([&](const v1::Pod&) {
    ++n;
    return n % 40 == 0 ? Pull{Pull::kNotFound, 0} : Pull{Pull::kSucceed, 2000 + (n * 7919) % 3000};
  });
  w.Start();
  w.RunFor(3 * 3600 * 1000);
  return w.journal();
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t total = 10'000'000;
  std::string root, only;
  int one_batch = 0, one_batches = 3000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--entries") == 0) total = std::stoull(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) root = argv[i + 1];
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
    if (std::strcmp(argv[i], "--batch") == 0) one_batch = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--batches") == 0) one_batches = std::stoi(argv[i + 1]);
  }
  drop::testing::TempDir scratch;
  if (root.empty()) root = scratch.path();

  if (only != "replay") {
    // The machine is shared: each batch size runs kRounds rounds of the three, and the median of
    // the rounds' ratios is reported beside the median rates. A round is a sustained append
    // (192,000 entries at batch 64): a file a few MB long syncs faster than one that keeps
    // growing, and rounds of 400 batches put the file 10-20% above its sustained rate.
    constexpr int kRounds = 11;
    const size_t entry_bytes = PodEntry(1).ByteSizeLong();
    std::printf(
        "append: ~%zu-byte entries, durable (one synced write per batch), median of %d "
        "rounds (each starts with another of the three)\n",
        entry_bytes, kRounds);
    std::printf("  %-6s %11s %14s %18s %7s %13s   %s\n", "batch", "journal/s", "bare RocksDB/s",
                "write+fdatasync/s", "ratio", "RocksDB ratio", "ratios of the rounds");
    std::vector<std::pair<int, int>> sizes = {{1, 2000}, {64, 3000}, {1024, 200}};
    if (one_batch > 0) sizes = {{one_batch, one_batches}};
    for (auto [batch, batches] : sizes) {
      std::vector<double> journal, bare, file, ratio, bare_ratio;
      for (int r = 0; r < kRounds; ++r) {
        // Each round starts with another of the three: none always follows the same one.
        double rate[kAppendKinds];
        for (int k = 0; k < kAppendKinds; ++k) {
          auto kind = static_cast<AppendKind>((r + k) % kAppendKinds);
          rate[kind] = Append(kind, root, batch, batches);
        }
        journal.push_back(rate[kJournal]);
        bare.push_back(rate[kBareRocksDB]);
        file.push_back(rate[kFile]);
        ratio.push_back(rate[kJournal] / rate[kFile]);
        bare_ratio.push_back(rate[kBareRocksDB] / rate[kFile]);
      }
      std::string rounds;
      for (double x : ratio)
        rounds += (rounds.empty() ? "" : " ") + std::to_string(x).substr(0, 4);
      double j = Median(journal), fl = Median(file);
      std::printf("  %-6d %11.0f %14.0f %18.0f %7.2f %13.2f   %s   (%.1f vs %.1f MB/s)\n", batch, j,
                  Median(bare), fl, Median(ratio), Median(bare_ratio), rounds.c_str(),
                  j * entry_bytes / 1e6, fl * entry_bytes / 1e6);
    }
  }
  if (only == "append") return 0;

  std::string dir = root + "/replay";
  if (!std::filesystem::exists(dir)) {
    std::printf("\nreplay: writing %llu entries of a recorded rollout's mix...\n",
                static_cast<unsigned long long>(total));
    std::vector<v1::Entry> mix = RecordedMix();
    journal::JournalOptions o;
    o.dir = dir;
    o.sync = false;
    o.verify_on_open = false;
    o.snapshot_every_entries = ~uint64_t{0};  // replay folds every entry
    o.snapshot_every_ms = 0;
    auto j = journal::Journal::Open(o);
    if (!j.ok()) return 2;
    uint64_t seq = 0;
    int64_t shift = 0;
    while (seq < total) {
      for (size_t i = 0; i < mix.size() && seq < total; i += 1024) {
        journal::Batch b;
        for (size_t k = i; k < std::min(mix.size(), i + 1024) && seq < total; ++k) {
          v1::Entry e = mix[k];
          e.set_seq(++seq);
          if (e.reconcile_id() != 0) e.set_reconcile_id(e.reconcile_id() + shift);
          e.set_time_ms(e.time_ms() + static_cast<int64_t>(shift) * 1000);
          (void)b.Add(e);
        }
        if (!(*j)->Write(b).ok()) return 2;
      }
      shift += static_cast<int64_t>(mix.size());
    }
    const journal::Store& store = (*j)->store();
    rocksdb::CompactRangeOptions c;
    c.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    (void)store.db()->CompactRange(c, store.entries(), nullptr, nullptr);
    for (auto* cf : {store.entries(), store.snapshots(), store.meta()}) {
      (void)store.db()->Flush(rocksdb::FlushOptions(), cf);
    }
  }
  uint64_t sst = 0, files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    files += f.file_size();
    if (f.path().extension() == ".sst") sst += f.file_size();
  }
  std::printf("size: %.1f bytes/entry in table files, %.1f bytes/entry for the whole directory\n",
              static_cast<double>(sst) / static_cast<double>(total),
              static_cast<double>(files) / static_cast<double>(total));

  // Bare iteration: the floor any replay pays.
  double bare_per_s = 0;
  {
    journal::Store::Options ro;
    auto store = journal::Store::Open(dir, ro);
    if (!store.ok()) return 2;
    auto start = Steady::now();
    rocksdb::ReadOptions read;
    read.readahead_size = 2 << 20;
    read.fill_cache = false;  // as the journal reads a long range
    std::unique_ptr<rocksdb::Iterator> it((*store)->db()->NewIterator(read, (*store)->entries()));
    uint64_t n = 0, bytes = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++n;
      bytes += it->key().size() + it->value().size();
    }
    bare_per_s = static_cast<double>(n) / Seconds(start);
    std::printf("\nreplay of %llu entries:\n  bare RocksDB iteration      %12.0f entries/s\n",
                static_cast<unsigned long long>(n), bare_per_s);
  }
  {
    journal::Store::Options ro;
    auto store = journal::Store::Open(dir, ro);
    if (!store.ok()) return 2;
    auto start = Steady::now();
    journal::Store::Iterator it = (*store)->Entries(1);
    uint64_t n = 0;
    std::map<int, std::pair<uint64_t, uint64_t>> kinds;  // kind -> (count, bytes)
    for (; it.Valid(); it.Next()) {
      ++n;
      auto& k = kinds[it.entry().kind_case()];
      ++k.first;
      k.second += it.bytes().size();
    }
    double per_s = static_cast<double>(n) / Seconds(start);
    std::printf("  iterate+decode              %12.0f entries/s   ratio to bare %.2f\n", per_s,
                per_s / bare_per_s);
    std::printf("  the mix (share of entries, average bytes before compression):");
    for (const auto& [kind, cb] : kinds) {
      const auto* f = v1::Entry::descriptor()->FindFieldByNumber(kind);
      std::printf(" %s %.0f%% %.0fB;", f ? f->name().c_str() : "?", 100.0 * cb.first / n,
                  static_cast<double>(cb.second) / cb.first);
    }
    std::printf("\n");
  }
  {
    auto start = Steady::now();
    journal::Store::Options ro;
    auto store = journal::Store::Open(dir, ro);
    if (!store.ok()) return 2;
    v1::State state = InitialState();
    drop::Status s = (*store)->Fold(1, total, &state);
    if (!s.ok() || state.last_seq() != total) {
      std::fprintf(stderr, "fold: %s, ended at %llu\n", s.ToString().c_str(),
                   static_cast<unsigned long long>(state.last_seq()));
      return 2;
    }
    double per_s = static_cast<double>(total) / Seconds(start);
    std::printf("  open+iterate+decode+fold    %12.0f entries/s   ratio to bare %.2f\n", per_s,
                per_s / bare_per_s);
  }
  {
    journal::Store::Options ro;
    auto store = journal::Store::Open(dir, ro);
    auto start = Steady::now();
    drop::Status s = (*store)->VerifyChecksums();
    std::printf("  checksum verification on open: %.2f s (%s)\n", Seconds(start),
                s.ok() ? "clean" : s.ToString().c_str());
  }
  return 0;
}
