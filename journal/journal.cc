#include "journal/journal.h"

#include <fcntl.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/fold.h"
#include "journal/format.h"

namespace drop::journal {

// ---------------------------------------------------------------------------------------------
// Batch

Status Batch::Add(const v1::Entry& entry) {
  if (count_ > 0 && (entry.seq() != last_seq_ + 1 || entry.time_ms() < last_time_)) {
    return Status::InvalidArgument("journal batch: entry " + std::to_string(entry.seq()) +
                                   " does not follow entry " + std::to_string(last_seq_) +
                                   " (sequence numbers are contiguous, times never go back)");
  }
  if (count_ == 0) {
    first_seq_ = entry.seq();
    first_time_ = entry.time_ms();
  }
  last_seq_ = entry.seq();
  last_time_ = entry.time_ms();
  size_t at = data_.size();
  if (!entry.AppendToString(&data_)) {
    data_.resize(at);
    return Status::InvalidArgument("journal batch: entry " + std::to_string(entry.seq()) +
                                   " does not serialize");
  }
  spans_.emplace_back(static_cast<uint32_t>(at), static_cast<uint32_t>(data_.size() - at));
  ++count_;
  return Status::Ok();
}

void Batch::Clear() {
  data_.clear();
  spans_.clear();
  count_ = 0;
  first_seq_ = last_seq_ = 0;
  first_time_ = last_time_ = 0;
}

// ---------------------------------------------------------------------------------------------
// Journal

struct Journal::Writer {
  const Batch* batch;
  Status status;
  bool done = false;
  std::chrono::steady_clock::time_point arrived = std::chrono::steady_clock::now();
};

// Puts kCreatingFile in `dir` (made if missing), durably: it must be on disk before RocksDB's
// CURRENT is.
Status MarkCreating(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // RocksDB makes the last directory only
  const std::string path = (std::filesystem::path(dir) / kCreatingFile).string();
  auto fail = [&](const char* what) {
    return Status::IOError("journal " + dir + ": cannot " + what + " " + path + ": " +
                           std::strerror(errno) +
                           "; check that the directory can be created and written by this user "
                           "(for the operator: a writable volume at --journal-dir)");
  };
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) return fail("create");
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!synced) return fail("sync");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail("sync the directory of");
  synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!synced) return fail("sync the directory of");
  return Status::Ok();
}

// How long a batch that starts further on waits for the batch before it to arrive.
constexpr std::chrono::seconds kPredecessorWait{1};

Result<std::unique_ptr<Journal>> Journal::Open(const JournalOptions& options) {
  std::unique_ptr<Journal> journal(new Journal(options));
  Store::Options open;
  open.mode = Store::Mode::kReadWrite;
  open.create_if_missing = true;
  open.salvage = options.salvage;
  namespace fs = std::filesystem;
  std::error_code ec;
  // A file where the directory should be is left to Store::Open to refuse.
  if (!fs::exists(options.dir, ec) ||
      (fs::is_directory(options.dir, ec) && fs::is_empty(options.dir, ec))) {
    if (Status s = MarkCreating(options.dir); !s.ok()) return s;
  }
  Result<std::unique_ptr<Store>> store = Store::Open(options.dir, open);
  if (!store.ok()) {
    Status s = store.status();
    if (s.code() == Status::Code::kUnavailable &&
        s.message().find("another process has it open") != std::string::npos) {
      // Store's advice is for a reader; a writer has one journal and must wait its turn.
      return Status::Unavailable("journal " + options.dir +
                                 ": another process (another drop?) has it open for writing; "
                                 "stop it, or give this one another --journal-dir");
    }
    if (s.code() == Status::Code::kCorruption && !options.salvage) {
      // Say how much is intact: what a point-in-time recovery would keep.
      Store::Options look;
      look.mode = Store::Mode::kReadOnly;
      look.salvage = true;
      Result<std::unique_ptr<Store>> intact = Store::Open(options.dir, look);
      if (intact.ok()) {
        Result<std::pair<uint64_t, uint64_t>> range = (*intact)->Range();
        if (range.ok() && range->first <= range->second) {
          s = Status::Corruption(s.message() + " [entries " + std::to_string(range->first) + ".." +
                                 std::to_string(range->second) +
                                 " are intact; the damage is in entries after " +
                                 std::to_string(range->second) + "]");
        }
      }
    }
    return s;
  }
  journal->store_ = std::move(*store);
  if (Status s = journal->Recover(); !s.ok()) return s;
  return journal;
}

Journal::~Journal() = default;

Status Journal::Recover() {
  Result<uint32_t> version = store_->SchemaVersion();
  if (!version.ok()) return version.status();
  Result<std::pair<uint64_t, uint64_t>> range = store_->Range();
  if (!range.ok()) return range.status();
  bool empty = range->first > range->second;
  if (*version < kSchemaVersion) {
    // A new journal, or one of an older schema: the snapshots written from now on are of this
    // one, so a reader that knows only the older must refuse it. Older snapshots stay readable
    // (UpgradeState).
    rocksdb::WriteBatch wb;
    wb.Put(store_->meta(), std::string(kSchemaVersionKey), std::to_string(kSchemaVersion));
    if (*version == 0) wb.Put(store_->meta(), std::string(kFirstSeqKey), "1");
    rocksdb::WriteOptions sync;
    sync.sync = true;
    if (Status s = store_->Convert(store_->db()->Write(sync, &wb), "initialize"); !s.ok()) return s;
  }
  // Created (or long since): the mark goes. Should its removal be lost, the version now says
  // the journal is whole and the next open takes the mark away again.
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(options_.dir) / kCreatingFile, ec);
  if (options_.verify_on_open) {
    if (Status s = store_->VerifyChecksums(); !s.ok()) return s;
  }

  Result<std::optional<std::pair<uint64_t, v1::State>>> snap =
      store_->SnapshotAtOrBefore(std::numeric_limits<uint64_t>::max());
  if (!snap.ok()) return snap.status();
  v1::State state = InitialState();
  uint64_t from = 1;
  if (snap->has_value()) {
    from = (*snap)->first + 1;
    state = std::move((*snap)->second);
  }
  if (!empty && from < range->first) {
    return Status::Corruption("journal " + options_.dir + ": entries start at " +
                              std::to_string(range->first) + " but no snapshot covers the ones " +
                              "before; the journal is damaged");
  }
  if (!empty) {
    if (Status s = store_->Fold(from, range->second, &state); !s.ok()) return s;
  }
  if (!empty && state.last_seq() != range->second) {
    return Status::Corruption("journal " + options_.dir + ": the snapshot at entry " +
                              std::to_string(from - 1) + " is newer than the last entry " +
                              std::to_string(range->second) + "; the journal is damaged");
  }
  Result<uint64_t> meta_last = store_->MetaNumber(kLastSeqKey);
  if (!meta_last.ok()) return meta_last.status();
  if (*meta_last > state.last_seq()) {
    return Status::Corruption("journal " + options_.dir + ": meta records entry " +
                              std::to_string(*meta_last) + " as written but entries end at " +
                              std::to_string(state.last_seq()) + "; the journal is damaged");
  }
  last_seq_ = state.last_seq();
  last_time_ = state.last_time_ms();
  metrics_.last_seq = last_seq_;
  Result<std::vector<Store::SnapshotInfo>> snaps = store_->Snapshots();
  if (!snaps.ok()) return snaps.status();
  last_snapshot_time_ = snaps->empty() ? state.last_time_ms() : snaps->back().time_ms;
  entries_since_snapshot_ = last_seq_ - (from - 1);
  recovered_ = std::move(state);
  return Status::Ok();
}

uint64_t Journal::last_seq() const {
  std::lock_guard lock(mu_);
  return last_seq_;
}

Status Journal::Append(const v1::Entry& entry) {
  return pending_.Add(entry);
}

Status Journal::Commit(const v1::State& state) {
  if (pending_.empty()) return Status::Ok();
  Status s = Write(pending_);
  entries_since_snapshot_ += pending_.size();
  pending_.Clear();
  if (!s.ok()) return s;
  if (last_snapshot_time_ == 0) last_snapshot_time_ = state.last_time_ms();
  bool due = entries_since_snapshot_ >= options_.snapshot_every_entries ||
             (options_.snapshot_every_ms > 0 &&
              state.last_time_ms() - last_snapshot_time_ >= options_.snapshot_every_ms);
  return due ? WriteSnapshot(state) : Status::Ok();
}

Status Journal::Write(const Batch& batch) {
  if (batch.empty()) return Status::Ok();
  Writer w;
  w.batch = &batch;
  std::unique_lock lock(mu_);
  writers_.push_back(&w);
  cv_.notify_all();  // a waiting leader may now have the batch it lacked
  while (true) {
    if (w.done) return w.status;
    if (writing_) {
      cv_.wait(lock);
      continue;
    }
    // Lead: take every queued batch that continues the journal, in sequence order, into one
    // write. A batch that overlaps what is written is refused; one that starts further on waits
    // for the batch before it.
    std::vector<Writer*> chain;
    uint64_t expect = last_seq_ + 1;
    int64_t time = last_time_;
    for (bool grew = true; grew;) {
      grew = false;
      for (Writer* x : writers_) {
        const Batch& b = *x->batch;
        if (x->done || b.first_seq_ != expect) continue;
        if (broken_) {
          x->status = Status::FailedPrecondition(
              "journal " + options_.dir + ": an earlier write failed; restart from the journal");
        } else if (b.first_time_ < time) {
          x->status = Status::InvalidArgument("journal " + options_.dir + ": entry " +
                                              std::to_string(b.first_seq_) +
                                              " is recorded earlier than the entry before it");
        } else {
          chain.push_back(x);
          expect = b.last_seq_ + 1;
          time = b.last_time_;
          grew = true;
        }
        x->done = !x->status.ok();
      }
    }
    auto now = std::chrono::steady_clock::now();
    for (Writer* x : writers_) {
      if (x->done || (x->batch->first_seq_ > last_seq_ && now - x->arrived < kPredecessorWait)) {
        continue;
      }
      x->status = Status::InvalidArgument(
          "journal " + options_.dir + ": a batch starting at entry " +
          std::to_string(x->batch->first_seq_) + " does not continue the journal, which ends at " +
          std::to_string(last_seq_) + " (entries are contiguous)");
      x->done = true;
    }
    if (chain.empty()) {
      std::erase_if(writers_, [](Writer* x) { return x->done; });
      cv_.notify_all();
      if (!w.done) cv_.wait_for(lock, std::chrono::milliseconds(100));
      continue;
    }

    // Sized up front: growing it entry by entry cost a reallocation and copy per doubling.
    size_t reserve = 64;
    for (Writer* x : chain)
      reserve += x->batch->data_.size() + x->batch->count_ * 16;
    rocksdb::WriteBatch wb(reserve);
    uint64_t entries = 0, bytes = 0;
    for (Writer* x : chain) {
      const Batch& b = *x->batch;
      uint64_t seq = b.first_seq_;
      for (const auto& [at, len] : b.spans_) {
        wb.Put(store_->entries(), EncodeSeq(seq++), rocksdb::Slice(b.data_.data() + at, len));
      }
      entries += b.count_;
      bytes += b.data_.size();
    }
    uint64_t new_last = expect - 1;
    wb.Put(store_->meta(), std::string(kLastSeqKey), std::to_string(new_last));
    writing_ = true;
    lock.unlock();
    rocksdb::WriteOptions options;
    options.sync = options_.sync;
    auto start = std::chrono::steady_clock::now();
    rocksdb::Status s = store_->db()->Write(options, &wb);
    metrics_.commit_seconds.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    lock.lock();
    writing_ = false;
    if (s.ok()) {
      last_seq_ = new_last;
      last_time_ = time;
      metrics_.entries_appended += entries;
      metrics_.bytes_appended += bytes;
      ++metrics_.batches_committed;
      metrics_.last_seq = new_last;
    } else {
      broken_ = true;
    }
    Status written = store_->Convert(s, "append");
    for (Writer* x : chain) {
      x->status = written;
      x->done = true;
    }
    std::erase_if(writers_, [](Writer* x) { return x->done; });
    cv_.notify_all();
  }
}

Status Journal::WriteSnapshot(const v1::State& state) {
  {
    std::lock_guard lock(mu_);
    if (state.last_seq() != last_seq_) {
      return Status::InvalidArgument(
          "journal " + options_.dir + ": a snapshot of entry " + std::to_string(state.last_seq()) +
          " does not match the last committed entry " + std::to_string(last_seq_));
    }
  }
  std::string key = EncodeSeq(state.last_seq());
  rocksdb::WriteBatch wb;
  wb.Put(store_->snapshots(), key, state.SerializeAsString());
  wb.Put(store_->meta(), std::string(kSnapshotTimePrefix) + key,
         std::to_string(state.last_time_ms()));
  // Not synced on its own: the next synced write carries it, and until then the entries suffice.
  rocksdb::Status s = store_->db()->Write(rocksdb::WriteOptions(), &wb);
  if (!s.ok()) return store_->Convert(s, "write snapshot");
  ++metrics_.snapshots_written;
  entries_since_snapshot_ = 0;
  last_snapshot_time_ = state.last_time_ms();
  return ApplyRetention(state.last_time_ms());
}

Status Journal::ApplyRetention(int64_t now_ms) {
  if (options_.retention_age_ms <= 0 && options_.retention_bytes == 0) return Status::Ok();
  Result<std::vector<Store::SnapshotInfo>> listed = store_->Snapshots();
  if (!listed.ok()) return listed.status();
  const std::vector<Store::SnapshotInfo>& snaps = *listed;
  Result<std::pair<uint64_t, uint64_t>> range = store_->Range();
  if (!range.ok()) return range.status();
  auto [first, last] = *range;
  if (snaps.empty() || first > last) return Status::Ok();

  // Entries up to `boundary` go; the snapshot at `boundary` stays as the oldest rebuildable point.
  uint64_t boundary = 0;
  if (options_.retention_age_ms > 0) {
    for (const Store::SnapshotInfo& s : snaps) {
      if (s.time_ms <= now_ms - options_.retention_age_ms) boundary = std::max(boundary, s.seq);
    }
  }
  uint64_t disk = store_->BytesOnDisk();
  if (options_.retention_bytes > 0 && disk > options_.retention_bytes) {
    uint64_t per_entry = std::max<uint64_t>(1, disk / (last - first + 1));
    uint64_t allowed = options_.retention_bytes / per_entry;
    uint64_t need = last > allowed ? last - allowed : 0;
    uint64_t pick = snaps.back().seq;
    for (const Store::SnapshotInfo& s : snaps) {
      if (s.seq >= need) {
        pick = s.seq;
        break;
      }
    }
    boundary = std::max(boundary, pick);
  }
  if (boundary < first) return Status::Ok();

  rocksdb::WriteBatch wb;
  wb.DeleteRange(store_->entries(), EncodeSeq(first), EncodeSeq(boundary + 1));
  wb.DeleteRange(store_->snapshots(), EncodeSeq(0), EncodeSeq(boundary));
  for (const Store::SnapshotInfo& s : snaps) {
    if (s.seq < boundary)
      wb.Delete(store_->meta(), std::string(kSnapshotTimePrefix) + EncodeSeq(s.seq));
  }
  wb.Put(store_->meta(), std::string(kFirstSeqKey), std::to_string(boundary + 1));
  rocksdb::WriteOptions sync;
  sync.sync = true;
  if (Status s = store_->Convert(store_->db()->Write(sync, &wb), "retention"); !s.ok()) return s;
  metrics_.entries_dropped += boundary - first + 1;
  // Reclaim the space now rather than whenever compaction gets there.
  std::string end = EncodeSeq(boundary + 1);
  rocksdb::Slice end_slice(end);
  rocksdb::CompactRangeOptions compact;
  compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  store_->db()
      ->CompactRange(compact, store_->entries(), nullptr, &end_slice)
      .PermitUncheckedError();
  store_->db()
      ->CompactRange(compact, store_->snapshots(), nullptr, &end_slice)
      .PermitUncheckedError();
  // The compactions flushed entries and snapshots; meta's memtable, never full, still pins every
  // WAL file since its last flush (up to max_total_wal_size), holding the dropped entries' bytes.
  store_->db()->Flush(rocksdb::FlushOptions(), store_->meta()).PermitUncheckedError();
  return Status::Ok();
}

}  // namespace drop::journal
