// The journal's on-disk format: one RocksDB database, three column families.
//
//   entries    key: the entry's sequence number, 8 bytes big-endian (so byte order is seq order)
//              value: a serialized drop.v1.Entry (core/schema.proto)
//   snapshots  key: the sequence number of the last entry the snapshot folds, 8 bytes big-endian
//              value: a serialized drop.v1.State, exactly the fold of entries 1..key
//   meta       "schema_version"   decimal; the drop.v1 schema the journal was written with
//              "first_seq"        decimal; the oldest entry kept (retention moves it)
//              "last_seq"         decimal; the newest durable entry, written in the same batch
//              "snap/" + key      decimal recorded time (ms) of a snapshot, so retention can
//                                 choose snapshots without reading States
//
// A batch of entries is one RocksDB WriteBatch (atomic) written with sync: after a crash the
// journal holds whole batches only. Sequence numbers are contiguous from first_seq to last_seq
// and recorded times never decrease; the writer refuses anything else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace drop::journal {

inline constexpr const char* kEntriesFamily = "entries";
inline constexpr const char* kSnapshotsFamily = "snapshots";
inline constexpr const char* kMetaFamily = "meta";

inline constexpr std::string_view kSchemaVersionKey = "schema_version";
inline constexpr std::string_view kFirstSeqKey = "first_seq";
inline constexpr std::string_view kLastSeqKey = "last_seq";
inline constexpr std::string_view kSnapshotTimePrefix = "snap/";

// A file in the journal directory while drop creates the journal, until its schema version is
// written: a directory that holds a database, no schema version and no such file lost its
// write-ahead log; with the file, the creation was cut short and starts again.
inline constexpr const char* kCreatingFile = "DROP-CREATING";

inline std::string EncodeSeq(uint64_t seq) {
  std::string key(8, '\0');
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(seq & 0xff);
    seq >>= 8;
  }
  return key;
}

// 0 when `key` is not 8 bytes (no entry has sequence number 0).
inline uint64_t DecodeSeq(std::string_view key) {
  if (key.size() != 8) return 0;
  uint64_t seq = 0;
  for (unsigned char c : key)
    seq = (seq << 8) | c;
  return seq;
}

}  // namespace drop::journal
