// One journal directory's RocksDB handles and the reads everything else is built on: entries by
// sequence number or time, snapshots, the fold up to a point. Opened for writing (by the
// Journal), read-only (a copied journal or checkpoint), or as a secondary that follows a live
// journal another process writes.
#pragma once

#include <google/protobuf/arena.h>
#include <rocksdb/db.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

namespace drop::journal {

// What to do about a journal whose files are damaged or missing, as its errors say it.
inline constexpr std::string_view kCopyAgain =
    "Copy the whole journal directory again, every file in it, or restore it from a backup";

class Store {
 public:
  enum class Mode {
    kReadWrite,  // the operator's journal
    kReadOnly,   // a copy or a checkpoint: nothing else writes it
    kSecondary,  // a live journal: follows the writer with CatchUp()
  };
  struct Options {
    Mode mode = Mode::kReadOnly;
    bool create_if_missing = false;
    // Open past a damaged WAL by keeping the entries before the damage (RocksDB point-in-time
    // recovery) instead of refusing. Entries after the damage are lost.
    bool salvage = false;
    // Refuse a WAL whose last record is torn too (RocksDB's absolute consistency): a reader
    // that wants to say so. Without it the torn record is dropped without a word, as after a
    // crash mid-write it must be for the operator to carry on.
    bool whole_tail = false;
    std::string secondary_dir;  // kSecondary: where RocksDB keeps the secondary's own files
  };

  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& dir() const { return dir_; }
  rocksdb::DB* db() const { return db_.get(); }
  rocksdb::ColumnFamilyHandle* entries() const { return cfs_[1]; }
  rocksdb::ColumnFamilyHandle* snapshots() const { return cfs_[2]; }
  rocksdb::ColumnFamilyHandle* meta() const { return cfs_[3]; }

  // The schema version in meta; 0 for a journal that has none yet.
  Result<uint32_t> SchemaVersion() const;
  Result<uint64_t> MetaNumber(std::string_view key) const;  // 0 when absent
  // [first, last] of the entries held; first > last when there are none.
  Result<std::pair<uint64_t, uint64_t>> Range() const;

  Result<v1::Entry> Get(uint64_t seq) const;

  // How an Iterator decodes: every entry as it reaches it, or only the entries the caller asks
  // for (verify compares most entries by their bytes and needs no parse of them).
  enum class Decode { kEach, kOnDemand };

  // Entries [from, to] in order. Checks that sequence numbers are contiguous and every value
  // parses; the first problem ends the iteration with a status that names it.
  class Iterator {
   public:
    bool Valid() const { return valid_; }
    void Next();
    // The current entry; valid until Next(). Decoded into an arena that is reset every few
    // hundred entries, so a replay does not pay a malloc and a free for every field. With
    // Decode::kOnDemand, only after Decode().
    const v1::Entry& entry() const { return *entry_; }
    std::string_view bytes() const { return bytes_; }  // the entry as stored, until Next()
    const Status& status() const { return status_; }
    // Decodes the current entry unless it is already; false when it does not decode, which ends
    // the iteration as with Decode::kEach.
    bool Decode();

   private:
    friend class Store;
    Iterator(const Store* store, std::unique_ptr<rocksdb::Iterator> it, uint64_t from, uint64_t to,
             Store::Decode decode);
    void Load();
    const Store* store_;
    std::unique_ptr<rocksdb::Iterator> it_;
    uint64_t expect_, to_;
    Store::Decode decode_;
    bool valid_ = false, decoded_current_ = false;
    std::unique_ptr<google::protobuf::Arena> arena_;
    v1::Entry* entry_ = nullptr;
    int decoded_ = 0;
    std::string_view bytes_;
    Status status_;
  };
  Iterator Entries(uint64_t from, uint64_t to = std::numeric_limits<uint64_t>::max(),
                   Decode decode = Decode::kEach) const;

  struct SnapshotInfo {
    uint64_t seq;
    int64_t time_ms;
  };
  // The snapshots there are, oldest first, as their records in meta list them; an error when a
  // record cannot be read.
  Result<std::vector<SnapshotInfo>> Snapshots() const;
  // The newest snapshot folding entries up to at most `seq`, if any, of those Snapshots() lists.
  Result<std::optional<std::pair<uint64_t, v1::State>>> SnapshotAtOrBefore(uint64_t seq) const;
  // The stored bytes of the snapshot taken right after entry `seq`, one Snapshots() lists,
  // undecoded; damage when it is not stored. A State that serializes to them is the snapshot's,
  // without decoding it.
  Result<std::string> SnapshotBytes(uint64_t seq) const;
  // The State in the snapshot bytes stored after entry `seq`; an error that names the snapshot
  // when they do not decode as it.
  Result<v1::State> DecodeSnapshot(uint64_t seq, std::string_view bytes) const;
  // The same, into *state (which may live on an arena).
  Status DecodeSnapshot(uint64_t seq, std::string_view bytes, v1::State* state) const;

  // Folds entries [from, to] into *state, as Apply of each in turn does. Long ranges are read and
  // decoded ahead on a second thread (ReadAhead), and the entries that change nothing but the
  // last seq and time are not decoded whole. Stops at the first missing or undecodable entry.
  Status Fold(uint64_t from, uint64_t to, v1::State* state) const;

  // The first entry recorded at or after `time_ms` (binary search: times never decrease).
  Result<uint64_t> SeqAtOrAfter(int64_t time_ms) const;
  // The state after entry `seq`: the newest snapshot at or before it, and the entries after.
  Result<v1::State> StateAt(uint64_t seq) const;

  // A secondary instance reads what the writer has made durable since it last looked.
  Status CatchUp();
  // A consistent copy that opens on its own (hard links where it can), e.g. for `kubectl cp`.
  Status Checkpoint(const std::string& dest) const;
  // Reads every block of every file and checks its checksum. A failure names the file, the
  // sequence numbers it holds, and what to do.
  Status VerifyChecksums() const;
  uint64_t BytesOnDisk() const;

  // Turns a RocksDB status into ours, naming the journal and, for corruption, the file and
  // entries affected.
  Status Convert(const rocksdb::Status& s, const std::string& what) const;

 private:
  Store() = default;
  // The snapshot record under the meta iterator `it`.
  Result<SnapshotInfo> SnapshotRecord(const rocksdb::Iterator& it) const;
  // What `file` (as FileNamed finds it in a RocksDB message) is to the journal, in words.
  std::string DescribeFile(const std::string& file) const;

  std::string dir_;
  Mode mode_ = Mode::kReadOnly;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // default, entries, snapshots, meta
};

}  // namespace drop::journal
