#include "replay/reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/duration.h"
#include "core/fold.h"
#include "journal/format.h"
#include "replay/point.h"

namespace drop::replay {
namespace fs = std::filesystem;

namespace {

// Whether another process holds RocksDB's lock on the directory: the writer is alive. RocksDB
// takes an fcntl write lock on LOCK; F_GETLK reports it without taking anything.
bool WriterHoldsLock(const std::string& dir) {
  int fd = ::open((fs::path(dir) / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  bool held = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  return held;
}

}  // namespace

Result<std::unique_ptr<Reader>> Reader::Open(const std::string& dir, bool salvage,
                                             const TempDirHook& made_temp_dir) {
  if (salvage) {
    // Salvaged only when a whole read is refused as damaged, so that the user hears what was
    // left out.
    Result<std::unique_ptr<Reader>> whole = Open(dir, false, made_temp_dir);
    if (whole.ok()) {
      // No damage found is not proof of none: a log cut at a record's end reads as a shorter one.
      if ((*whole)->note_.empty()) {
        (*whole)->note_ = "--salvage: no damage found; every entry was read";
      }
      return whole;
    }
    if (whole.status().code() != Status::Code::kCorruption) return whole.status();
    Result<std::unique_ptr<Reader>> part = OpenAs(dir, Tail::kSalvage, made_temp_dir);
    if (part.ok()) {
      (*part)->note_ = "--salvage: read " + (*part)->RangeText() +
                       ", up to the damage; what the journal recorded after it is not shown";
    }
    return part;
  }
  // A copy's write-ahead log may end in a torn record: the operator stopped mid-write, or the
  // copy was cut there. The record never counted (its batch was not acknowledged), so the
  // journal is read without it, but the user hears of it: a cut copy reads as a shorter one.
  // The two opens differ only in the log's last record: damage the second reads past is that.
  Result<std::unique_ptr<Reader>> whole = OpenAs(dir, Tail::kWhole, made_temp_dir);
  if (whole.ok() || whole.status().code() != Status::Code::kCorruption) return whole;
  Result<std::unique_ptr<Reader>> torn = OpenAs(dir, Tail::kTorn, made_temp_dir);
  if (torn.ok()) {
    (*torn)->note_ =
        "note: the journal's write-ahead log ends in a torn record (the operator "
        "stopped mid-write, or the copy was cut short there): read " +
        (*torn)->RangeText() + ", what came before it";
  }
  return torn;
}

Result<std::unique_ptr<Reader>> Reader::OpenAs(const std::string& dir, Tail tail,
                                               const TempDirHook& made_temp_dir) {
  std::unique_ptr<Reader> r(new Reader());
  journal::Store::Options options;
  options.mode = journal::Store::Mode::kReadOnly;
  options.salvage = tail == Tail::kSalvage;
  options.whole_tail = tail == Tail::kWhole;
  if (WriterHoldsLock(dir)) {
    std::error_code tmp_error;
    fs::path tmp = fs::temp_directory_path(tmp_error);
    if (tmp_error) tmp = "/tmp";  // TMPDIR names nothing usable: the mkdtemp below says so
    std::string pattern = (tmp / "drop-replay-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return Status::IOError("cannot create a temporary directory to follow the live journal " +
                             dir + "; set TMPDIR to a writable directory");
    }
    r->secondary_dir_ = pattern;
    if (made_temp_dir) made_temp_dir(pattern);
    options.mode = journal::Store::Mode::kSecondary;
    options.secondary_dir = pattern;
    options.whole_tail = false;  // the writer is in the middle of its log's last record
  }
  Result<std::unique_ptr<journal::Store>> store = journal::Store::Open(dir, options);
  if (!store.ok()) return store.status();
  r->store_ = std::move(*store);
  if (r->live()) {
    if (Status s = r->store_->CatchUp(); !s.ok()) return s;
  }
  Result<std::pair<uint64_t, uint64_t>> range = r->store_->Range();
  if (!range.ok()) return range.status();
  r->first_ = range->first;
  r->last_ = range->second;
  Result<std::vector<journal::Store::SnapshotInfo>> snapshots = r->store_->Snapshots();
  if (!snapshots.ok()) return snapshots.status();
  if (r->empty()) {
    // Retention may have dropped every entry and kept the snapshot after the last one.
    Result<uint64_t> first = r->store_->MetaNumber(journal::kFirstSeqKey);
    if (!first.ok()) return first.status();
    for (const journal::Store::SnapshotInfo& s : *snapshots) {
      if (*first > 1 && s.seq == *first - 1) {
        r->first_ = *first;
        r->last_ = s.seq;
        r->first_time_ = r->last_time_ = r->origin_time_ = s.time_ms;
      }
    }
  } else {
    // Retention records where the entries it kept begin: entries missing before that point were
    // lost, not dropped (a table file a live journal's reader does not find, say).
    Result<uint64_t> kept = r->store_->MetaNumber(journal::kFirstSeqKey);
    if (!kept.ok()) return kept.status();
    if (*kept > 0 && r->first_ > *kept) {
      return Status::Corruption(
          "journal " + dir + ": entries " + std::to_string(*kept) + ".." +
          std::to_string(r->first_ - 1) +
          " are missing, and retention did not drop them (it keeps entries from " +
          std::to_string(*kept) + " on): a table file is missing or damaged. " +
          std::string(journal::kCopyAgain));
    }
    Result<v1::Entry> first = r->store_->Get(r->first_);
    if (!first.ok()) return first.status();
    Result<v1::Entry> last = r->store_->Get(r->last_);
    if (!last.ok()) return last.status();
    r->first_time_ = first->time_ms();
    r->last_time_ = last->time_ms();
    r->origin_time_ = r->first_time_;
    if (r->first_ > 1) {
      for (const journal::Store::SnapshotInfo& s : *snapshots) {
        if (s.seq == r->first_ - 1) r->origin_time_ = s.time_ms;
      }
    }
  }
  return r;
}

Reader::~Reader() {
  store_.reset();
  if (!secondary_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(secondary_dir_, ec);
  }
}

std::string Reader::RangeText() const {
  if (empty()) {
    return has_state() ? "no entries; the state after entry " + std::to_string(last_) + " (" +
                             FormatTimeMillis(last_time_) + ") in a snapshot"
                       : "no entries";
  }
  return "entries " + std::to_string(first_) + ".." + std::to_string(last_) + ", " +
         FormatTimeMillis(first_time_) + " to " + FormatTimeMillis(last_time_);
}

Status Reader::NoEntries() const {
  if (!has_state()) return Status::InvalidArgument("journal " + dir() + " has no entries");
  return Status::InvalidArgument(
      "journal " + dir() + " holds no entries: retention dropped them all and kept the state " +
      "after entry " + std::to_string(last_) + " (" + FormatTimeMillis(last_time_) +
      ") in a snapshot; `drop-replay state` shows it");
}

Result<Point> Reader::Resolve(std::string_view text, std::string_view flag,
                              bool range_start) const {
  if (empty()) {
    if (has_state() && text == std::to_string(last_)) return end();
    Status none = NoEntries();
    return Status::InvalidArgument(
        std::string(flag) + " " + std::string(text) + ": " + none.message() +
        (has_state() ? ", the only point left (--at " + std::to_string(last_) + ")" : ""));
  }
  return ResolvePoint(*this, text, flag, range_start);
}

Result<v1::State> Reader::StateAt(const Point& point) const {
  if (point.seq == 0) return InitialState();
  return store_->StateAt(point.seq);
}

Result<std::pair<uint64_t, uint64_t>> Reader::Range(std::string_view since,
                                                    std::string_view since_flag,
                                                    std::string_view until,
                                                    std::string_view until_flag) const {
  uint64_t from = first(), to = last();
  if (!since.empty()) {
    Result<Point> p = Resolve(since, since_flag, /*range_start=*/true);
    if (!p.ok()) return p.status();
    from = std::max(from, p->seq + 1);
  }
  if (!until.empty()) {
    Result<Point> p = Resolve(until, until_flag);
    if (!p.ok()) return p.status();
    to = p->seq;
  }
  if (!since.empty() && !until.empty() && from > to + 1) {
    return Status::InvalidArgument(std::string(since_flag) + " " + std::string(since) +
                                   " (after entry " + std::to_string(from - 1) + ") comes after " +
                                   std::string(until_flag) + " " + std::string(until) + " (entry " +
                                   std::to_string(to) + "); swap them");
  }
  return std::pair{from, to};
}

}  // namespace drop::replay
