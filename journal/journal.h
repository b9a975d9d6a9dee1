// The operator's journal: the RocksDB implementation of the core's JournalWriter. Appends are
// batched and each batch is one synced write; writers on several threads share one sync (group
// commit). Opening recovers: newest snapshot, then the entries after it. Snapshots every N entries
// or T of recorded time; retention drops entries below a snapshot by age and by size, so the
// oldest remaining point can always be rebuilt.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/journal_writer.h"
#include "journal/metrics.h"
#include "journal/store.h"

namespace drop::journal {

struct JournalOptions {
  std::string dir;
  uint64_t snapshot_every_entries = 100'000;
  int64_t snapshot_every_ms = 10 * 60 * 1000;  // of recorded time, not the wall clock
  int64_t retention_age_ms = 0;                // 0: keep entries of any age
  uint64_t retention_bytes = 0;                // 0: no size limit
  bool verify_on_open = true;                  // read every block once and check its checksum
  bool salvage = false;                        // see Store::Options::salvage
  bool sync = true;                            // false only for benchmarks' baselines
};

// Entries written together: one RocksDB WriteBatch, one sync.
class Batch {
 public:
  // The entry must follow the batch's previous one (seq + 1, time not earlier).
  Status Add(const v1::Entry& entry);
  bool empty() const { return count_ == 0; }
  size_t size() const { return count_; }
  void Clear();

 private:
  friend class Journal;
  std::string data_;  // serialized entries back to back
  std::vector<std::pair<uint32_t, uint32_t>> spans_;
  uint64_t first_seq_ = 0, last_seq_ = 0;
  int64_t first_time_ = 0, last_time_ = 0;
  size_t count_ = 0;
};

class Journal : public JournalWriter {
 public:
  // Opens the journal in options.dir (creating it if missing) and rebuilds the state it holds.
  static Result<std::unique_ptr<Journal>> Open(const JournalOptions& options);
  ~Journal() override;

  // The state the journal folded to on open; the loop takes it from here.
  v1::State TakeRecoveredState() { return std::move(recovered_); }

  // JournalWriter: the loop's batch.
  Status Append(const v1::Entry& entry) override;
  Status Commit(const v1::State& state) override;

  // Thread-safe: writes `batch` durably. The batches of concurrent callers are merged into one
  // synced write in sequence order, whatever order they arrive in (group commit); a batch that
  // starts further on waits up to a second for the one before it. A batch that overlaps the
  // journal, or is recorded earlier than the entry it follows, is refused.
  Status Write(const Batch& batch);

  // Writes a snapshot of `state` (which must fold exactly the committed entries), then applies
  // retention. Commit calls it when a snapshot is due.
  Status WriteSnapshot(const v1::State& state);

  // A consistent copy, openable on its own, for `kubectl cp` or the replay tool.
  Status Checkpoint(const std::string& dest) const { return store_->Checkpoint(dest); }

  const Store& store() const { return *store_; }
  const JournalMetrics& metrics() const { return metrics_; }
  uint64_t last_seq() const;

 private:
  struct Writer;
  explicit Journal(JournalOptions options) : options_(std::move(options)) {}
  Status Recover();
  Status ApplyRetention(int64_t now_ms);

  JournalOptions options_;
  std::unique_ptr<Store> store_;
  v1::State recovered_;
  Batch pending_;  // the loop's batch in hand

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Writer*> writers_;  // queued Write calls, in arrival order
  bool writing_ = false;          // a leader is writing a group
  uint64_t last_seq_ = 0;         // committed
  int64_t last_time_ = 0;
  bool broken_ = false;  // a write failed: what is durable is no longer known

  uint64_t entries_since_snapshot_ = 0;
  int64_t last_snapshot_time_ = 0;
  JournalMetrics metrics_;
};

}  // namespace drop::journal
