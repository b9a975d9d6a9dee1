// Reads a range of a journal's entries ahead of the caller, on a thread of its own, and decodes
// them on whichever of the two threads is free: RocksDB's iteration, the decoding and the
// caller's own work (a fold, a history) overlap. Entries arrive in sequence order, in chunks.
#pragma once

#include <google/protobuf/arena.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/schema.h"
#include "core/status.h"

namespace drop::journal {

class Store;

class ReadAhead {
 public:
  // What the caller needs of an entry, judged from its stored bytes (see wire.h).
  enum class Need {
    kNothing,   // skip it
    kEnvelope,  // seq, time_ms and reconcile_id only: the entry's kind is left unset
    kSkim,      // the envelope, and what the Skim takes from the rest (whole without a Skim)
    kWhole,
  };
  using Filter = Need (*)(std::string_view bytes);
  // Sets on *entry, whose envelope is decoded, the few fields of the stored entry `bytes` that
  // the caller reads, where decoding all of it would cost far more. False when the bytes do not
  // hold them.
  using Skim = bool (*)(std::string_view bytes, v1::Entry* entry);

  // Entries [from, to] of `store`, which must outlive this. Without a filter every entry is
  // decoded whole.
  ReadAhead(const Store& store, uint64_t from, uint64_t to, Filter filter = nullptr,
            Skim skim = nullptr);
  ~ReadAhead();
  ReadAhead(const ReadAhead&) = delete;
  ReadAhead& operator=(const ReadAhead&) = delete;

  // The next chunk of entries, in order; valid until the next call. nullptr at the end, or at
  // the first entry that is missing or does not decode: then status() says which.
  const std::vector<const v1::Entry*>* Next();
  Status status() const;

 private:
  struct Chunk;
  void Run();
  Chunk* TakeFree(std::unique_lock<std::mutex>& lock);
  bool Hand(Chunk* chunk);
  // Decodes the newest chunk the caller has not reached, if there is one; call with mu_ held.
  bool HelpDecode(std::unique_lock<std::mutex>& lock, size_t leave);
  void Decode(Chunk* chunk) const;

  const Store& store_;
  const uint64_t from_, to_;
  const Filter filter_;
  const Skim skim_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Chunk>> chunks_;  // all of them, for ownership
  std::vector<Chunk*> free_;
  std::deque<Chunk*> ready_;  // read, in order, waiting for the caller
  Chunk* current_ = nullptr;  // the caller's
  bool done_ = false, stop_ = false;
  Status status_;
  std::thread thread_;  // last: it starts once everything above exists
};

}  // namespace drop::journal
