// A journal directory opened for reading, never for writing: a copy or a checkpoint is opened
// read-only; a live journal (its writer holds RocksDB's LOCK) is followed as a secondary instance
// whose own files go to a temporary directory removed on close. Every subcommand reads through it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "core/schema.h"
#include "core/status.h"
#include "journal/store.h"

namespace drop::replay {

// A moment in the journal: the state after entry `seq`, looked at at `time_ms`.
struct Point {
  uint64_t seq = 0;
  int64_t time_ms = 0;
};

class Reader {
 public:
  // With `salvage`, a write-ahead log damaged in the middle is read up to the damage instead of
  // refused (RocksDB's point-in-time recovery): what a damaged journal still tells. Only a
  // journal refused as damaged is salvaged; note() says what was read.
  // A live journal is followed by a secondary instance, whose files go in a temporary directory:
  // `made_temp_dir` hears its path as soon as it is made, before the journal opens, so that a
  // process that dies while opening can still remove it.
  using TempDirHook = std::function<void(const std::string& temp_dir)>;
  static Result<std::unique_ptr<Reader>> Open(const std::string& dir, bool salvage = false,
                                              const TempDirHook& made_temp_dir = nullptr);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  const journal::Store& store() const { return *store_; }
  const std::string& dir() const { return store_->dir(); }
  bool live() const { return !secondary_dir_.empty(); }
  // Where the secondary instance of a live journal keeps its files ("" when not live); removed
  // with the Reader.
  const std::string& temp_dir() const { return secondary_dir_; }

  bool empty() const { return first_ > last_; }
  // Whether some state can be rebuilt: the journal holds entries, or retention dropped every one
  // of them and kept the snapshot after the last (then end() is that snapshot).
  bool has_state() const { return last_ > 0; }
  // The error for a command that needs entries, saying what the journal does hold.
  Status NoEntries() const;
  uint64_t first() const { return first_; }  // oldest entry kept
  uint64_t last() const { return last_; }
  int64_t first_time() const { return first_time_; }
  int64_t last_time() const { return last_time_; }
  // The oldest point whose state can be rebuilt: before the first entry (a snapshot there after
  // retention, or the empty state of a journal that starts at 1).
  Point origin() const { return {first_ - 1, origin_time_}; }
  Point end() const { return {last_, last_time_}; }

  // Reads a point as the user writes it: a sequence number ("1234"), an RFC 3339 time, a time of
  // day on the journal's day ("10:02:13"), or an offset from the start ("+90s") or the end
  // ("-5m"). A time names the state after every entry recorded at or before it. A time before
  // the journal is refused, except where a range starts (`range_start`): there it names
  // origin(), so that the range holds the first entry. Errors name the journal's range, and the
  // point as `flag` gave it.
  Result<Point> Resolve(std::string_view text, std::string_view flag,
                        bool range_start = false) const;
  // The entries after point `since` up to point `until` (either may be empty: the journal's
  // first or last entry), as [first, last] sequence numbers. `*_flag` names them in errors. A
  // time `since` starts the range after the entries recorded at or before it, as it resolves: at
  // the first entry's own time it leaves that entry out, and before it takes it in.
  Result<std::pair<uint64_t, uint64_t>> Range(std::string_view since, std::string_view since_flag,
                                              std::string_view until,
                                              std::string_view until_flag) const;

  // The folded state at a point.
  Result<v1::State> StateAt(const Point& point) const;

  // "entries 1..52341, 2027-01-15T08:00:00Z to 2027-01-15T09:12:44Z"
  std::string RangeText() const;
  // What the open read and left out, for the user (stderr): with salvage, or past a torn last
  // record of the write-ahead log. Empty when there is nothing to say.
  const std::string& note() const { return note_; }

 private:
  // How the open takes the write-ahead log's last record: whole or refused, torn and dropped,
  // or any damage salvaged up to.
  enum class Tail { kWhole, kTorn, kSalvage };
  static Result<std::unique_ptr<Reader>> OpenAs(const std::string& dir, Tail tail,
                                                const TempDirHook& made_temp_dir);
  Reader() = default;
  std::unique_ptr<journal::Store> store_;
  std::string secondary_dir_;
  std::string note_;
  uint64_t first_ = 1, last_ = 0;
  int64_t first_time_ = 0, last_time_ = 0, origin_time_ = 0;
};

// Exit codes of drop-replay (DESIGN.md section 8).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitBadInput = 2;

}  // namespace drop::replay
