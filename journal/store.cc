#include "journal/store.h"

#include <rocksdb/convenience.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "core/fold.h"
#include "core/state.h"
#include "core/words.h"
#include "journal/format.h"
#include "journal/read_ahead.h"
#include "journal/wire.h"

namespace drop::journal {
namespace fs = std::filesystem;

namespace {

// RocksDB requires the default family; drop keeps nothing in it.
const char* const kFamilies[] = {"default", kEntriesFamily, kSnapshotsFamily, kMetaFamily};

bool Supported(rocksdb::CompressionType type) {
  auto all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

rocksdb::ColumnFamilyOptions FamilyOptions(const std::string& name, Store::Mode mode) {
  rocksdb::ColumnFamilyOptions o;
  rocksdb::BlockBasedTableOptions table;
  // Entries are small and read in sequence: big blocks compress well and cost nothing on scans.
  table.block_size = name == kEntriesFamily ? 64 * 1024 : 16 * 1024;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  if (Supported(rocksdb::kLZ4Compression)) o.compression = rocksdb::kLZ4Compression;
  if (Supported(rocksdb::kZSTD)) {
    // The cold bulk of the journal sits in the bottom level: compress it hard.
    o.bottommost_compression = rocksdb::kZSTD;
    if (name == kSnapshotsFamily) o.compression = rocksdb::kZSTD;
  }
  o.write_buffer_size = name == kEntriesFamily ? 32 << 20 : 8 << 20;
  if (name == kEntriesFamily && mode == Store::Mode::kReadWrite) {
    // The writer's entries arrive in key order and are read back only by a flush or a recovery:
    // a vector takes them for a third of a skip list's cost (a synced batch of 64 spent as long
    // inserting into the skip list as writing the log). Readers keep the skip list, whose
    // lookups do not sort.
    o.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  }
  return o;
}

Result<uint64_t> ParseNumber(const std::string& text, const std::string& what) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::Corruption(what + " is \"" + text + "\", not a number");
  }
  return v;
}

// The first of RocksDB's files in `dir` (CURRENT, MANIFEST-*, *.log, *.sst) that is not a regular
// file, with what it is instead; nullopt when each is one. A FIFO would hang the open, and a
// device (/dev/zero) would fill the memory.
std::optional<std::pair<std::string, std::string>> NotARegularFile(const std::string& dir) {
  std::error_code ec;
  std::vector<std::pair<std::string, std::string>> odd;
  for (const fs::directory_entry& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (name != "CURRENT" && !name.starts_with("MANIFEST-") && !name.ends_with(".log") &&
        !name.ends_with(".sst")) {
      continue;
    }
    std::error_code type_ec;
    const fs::file_type type = fs::status(f.path(), type_ec).type();  // through a symlink
    if (type_ec || type == fs::file_type::regular) continue;  // a dangling one: RocksDB says so
    odd.emplace_back(name, type == fs::file_type::directory ? "a directory"
                           : type == fs::file_type::fifo    ? "a FIFO"
                           : type == fs::file_type::socket  ? "a socket"
                           : type == fs::file_type::character || type == fs::file_type::block
                               ? "a device"
                               : "not a file");
  }
  if (odd.empty()) return std::nullopt;
  return *std::min_element(odd.begin(), odd.end());  // the directory's order is no order
}

// A journal a writer began and has not finished creating: its schema version is not written yet.
Status NothingYet(const std::string& dir) {
  return Status::NotFound("journal " + dir +
                          ": holds nothing yet: drop is creating it, or stopped while it did");
}

// The RocksDB files a directory without CURRENT holds, as "MANIFEST-000005 and 12 table files";
// empty when it holds none. Those of a database are named first; OPTIONS and IDENTITY only when
// nothing else is there, as they hold no entries.
std::string RocksDbFilesHeld(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> manifests, others;
  int tables = 0, logs = 0;
  for (const fs::directory_entry& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    const bool numbered = !name.empty() && std::isdigit(static_cast<unsigned char>(name[0]));
    if (name.starts_with("MANIFEST-")) {
      manifests.push_back(name);
    } else if (numbered && name.ends_with(".sst")) {
      ++tables;
    } else if (numbered && name.ends_with(".log")) {
      ++logs;
    } else if (name.starts_with("OPTIONS-") || name == "IDENTITY") {
      others.push_back(name);
    }
  }
  std::sort(manifests.begin(), manifests.end());  // the directory's order is no order
  std::sort(others.begin(), others.end());
  std::vector<std::string> held = manifests;
  if (tables > 0) held.push_back(Count(tables, "table file"));
  if (logs > 0) held.push_back(Count(logs, "write-ahead log"));
  if (held.empty()) held = others;
  return Listed(held);
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const Options& options) {
  std::unique_ptr<Store> store(new Store());
  store->dir_ = dir;
  store->mode_ = options.mode;
  std::error_code ec;
  bool exists = fs::is_directory(dir, ec);
  bool has_db = fs::exists(fs::path(dir) / "CURRENT", ec);
  const bool creating = options.mode == Mode::kReadWrite && options.create_if_missing;
  // drop marks a journal it creates until the schema version is written (see kCreatingFile).
  const bool marked = fs::exists(fs::path(dir) / kCreatingFile, ec);
  // What to give instead: the operator makes its journal; a reader takes the operator's.
  const std::string instead =
      creating ? "give --journal-dir an empty directory, or one that does not exist yet"
               : "give the directory the operator writes its journal to (--journal-dir), or a "
                 "copy of it";
  if (!exists && fs::exists(dir, ec)) {
    return Status::InvalidArgument("journal " + dir + ": a file, not a directory; " + instead);
  }
  if (!exists && !creating) {
    if (fs::is_symlink(fs::symlink_status(dir, ec))) {
      return Status::NotFound("journal " + dir + ": a symbolic link to nothing that exists (or " +
                              "in a loop); " + instead);
    }
    return Status::NotFound("journal " + dir + ": no such directory; " + instead);
  }
  // A directory drop began to create the journal in holds RocksDB's first files, which are ours.
  bool ours = fs::is_empty(dir, ec) || marked;
  if (exists && !has_db && !(creating && ours)) {
    if (marked) return NothingYet(dir);
    // The rest of a database without its CURRENT: a copy cut short, not something else.
    if (const std::string held = RocksDbFilesHeld(dir); !held.empty() && !creating) {
      return Status::InvalidArgument(
          "journal " + dir + ": holds " + held +
          " but no CURRENT file (the name of the MANIFEST to read): an incomplete copy of a "
          "journal; copy the whole directory again, CURRENT with it, or take a RocksDB "
          "checkpoint of the journal (a checkpoint always has CURRENT)");
    }
    return Status::InvalidArgument("journal " + dir + ": not a drop journal (no RocksDB CURRENT " +
                                   "file); " + instead);
  }

  if (!exists && creating) {
    fs::create_directories(dir, ec);  // RocksDB makes the last directory only; errors show below
  }
  if (const auto odd = exists ? NotARegularFile(dir) : std::nullopt) {
    return Status::Corruption("journal " + dir + ": " + odd->first + " is " + odd->second +
                              ", not a file; the journal is damaged or not what it seems. " +
                              std::string(kCopyAgain));
  }
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = options.create_if_missing;
  db_options.paranoid_checks = true;
  // A crash can tear the last record of the WAL; anything else damaged is an error, unless the
  // user asks to salvage what comes before it.
  db_options.wal_recovery_mode = options.salvage ? rocksdb::WALRecoveryMode::kPointInTimeRecovery
                                 : options.whole_tail
                                     ? rocksdb::WALRecoveryMode::kAbsoluteConsistency
                                     : rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  db_options.max_open_files = options.mode == Mode::kSecondary ? -1 : 512;
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  // meta takes a small write with every batch and would pin every WAL file behind its never-full
  // memtable: past this much WAL, RocksDB flushes whichever family holds the oldest.
  db_options.max_total_wal_size = 64 << 20;
  // One writer at a time: the journal's group commit has a single leader (and a vector memtable
  // takes no concurrent inserts).
  db_options.allow_concurrent_memtable_write = false;

  // A database cut short before its column families were made gets them now, as a new one.
  if (has_db && !(marked && creating)) {
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, dir, &names);
    if (!s.ok()) return store->Convert(s, "open");
    for (const char* want : {kEntriesFamily, kSnapshotsFamily, kMetaFamily}) {
      if (std::find(names.begin(), names.end(), want) == names.end()) {
        return Status::InvalidArgument(
            "journal " + dir + ": a RocksDB database but not a drop journal (no column family \"" +
            want + "\"), or a journal whose MANIFEST is damaged; give the operator's " +
            "--journal-dir or a copy of it, or restore it from a backup");
      }
    }
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const char* name : kFamilies)
    families.emplace_back(name, FamilyOptions(name, options.mode));
  rocksdb::DB* db = nullptr;
  rocksdb::Status s;
  switch (options.mode) {
    case Mode::kReadWrite:
      s = rocksdb::DB::Open(db_options, dir, families, &store->cfs_, &db);
      break;
    case Mode::kReadOnly:
      s = rocksdb::DB::OpenForReadOnly(db_options, dir, families, &store->cfs_, &db);
      break;
    case Mode::kSecondary:
      fs::create_directories(options.secondary_dir, ec);
      s = rocksdb::DB::OpenAsSecondary(db_options, dir, options.secondary_dir, families,
                                       &store->cfs_, &db);
      break;
  }
  store->db_.reset(db);
  if (!s.ok()) {
    // RocksDB's words for a LOCK another process (or this one) holds.
    const std::string why = s.ToString();
    if ((why.find("While lock file") != std::string::npos &&
         why.find("Resource temporarily unavailable") != std::string::npos) ||
        why.find("lock hold by current process") != std::string::npos) {
      return Status::Unavailable("journal " + dir + ": another process has it open for writing (" +
                                 s.ToString() + "); read a live journal with a read-only or " +
                                 "secondary open, or copy it first");
    }
    Status open = store->Convert(s, "open");
    if (options.mode == Mode::kReadWrite && (why.find("Permission denied") != std::string::npos ||
                                             why.find("mkdir") != std::string::npos)) {
      return Status::IOError(open.message() + "; check that the directory can be created and " +
                             "written by this user (for the operator: a writable volume at " +
                             "--journal-dir)");
    }
    return open;
  }

  Result<uint32_t> version = store->SchemaVersion();
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) {
    return Status::FailedPrecondition(
        "journal " + dir + ": written with schema version " + std::to_string(*version) +
        ", newer than this build of drop knows (" + std::to_string(kSchemaVersion) +
        "); use a drop (or drop-replay) at least as new as the one that wrote it");
  }
  if (*version == 0 && has_db) {
    // The schema version is the first thing written to a new journal, synced, before its mark
    // goes. With the mark, the creation was cut short: a writer creates the journal again.
    // Without it, the journal lost its write-ahead log (deleted, emptied, left out of a copy):
    // taking it for a new one would write over what is left of the record.
    if (marked && !creating) return NothingYet(dir);
    if (!marked && !(options.salvage && options.mode != Mode::kReadWrite)) {
      Result<std::pair<uint64_t, uint64_t>> range = store->Range();
      if (!range.ok()) return range.status();
      return Status::Corruption(
          "journal " + dir +
          ": holds no schema version, which drop writes first when it creates a journal: its "
          "write-ahead log (*.log) is missing or was emptied" +
          (range->first > range->second ? std::string(", and with it every entry")
                                        : std::string(", or its meta is damaged")) +
          ". drop-replay --salvage reads what is left; to run drop again, restore the directory "
          "from a backup, or move it aside: drop starts a new journal and relists the cluster");
    }
  }
  return store;
}

Store::~Store() {
  for (rocksdb::ColumnFamilyHandle* cf : cfs_) {
    if (db_ != nullptr) db_->DestroyColumnFamilyHandle(cf);
  }
  cfs_.clear();
  if (db_ != nullptr) db_->Close().PermitUncheckedError();
}

// The journal file a RocksDB message names: "000012.sst" (also when RocksDB, not finding it, tried
// the legacy "000012.ldb"), "000012.log", "MANIFEST-000005" or "CURRENT"; "" when it names none.
std::string FileNamed(const std::string& message) {
  for (const char* ext : {".sst", ".ldb", ".log"}) {
    for (size_t at = message.find(ext); at != std::string::npos; at = message.find(ext, at + 1)) {
      size_t start = at;
      while (start > 0 && std::isdigit(static_cast<unsigned char>(message[start - 1])))
        --start;
      if (at - start < 6) continue;
      return message.substr(start, at - start) +
             (std::string_view(ext) == ".log" ? ".log" : ".sst");
    }
  }
  if (size_t at = message.find("MANIFEST-"); at != std::string::npos) {
    size_t end = at + 9;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end])))
      ++end;
    return message.substr(at, end - at);
  }
  if (message.find("CURRENT") != std::string::npos) return "CURRENT";
  return "";
}

std::string Store::DescribeFile(const std::string& file) const {
  if (file.ends_with(".log")) {
    return "write-ahead log " + file + " (the newest entries, not yet in a table file)";
  }
  if (file.starts_with("MANIFEST-")) return file + " (the list of the journal's files)";
  if (file == "CURRENT") return "CURRENT (the name of the journal's MANIFEST)";
  std::vector<rocksdb::LiveFileMetaData> files;
  if (db_ != nullptr) db_->GetLiveFilesMetaData(&files);
  for (const rocksdb::LiveFileMetaData& f : files) {
    if (f.relative_filename != file && f.name != "/" + file) continue;
    if (f.column_family_name == kEntriesFamily || f.column_family_name == kSnapshotsFamily) {
      std::string what = f.column_family_name == kEntriesFamily ? "entries " : "snapshots at seq ";
      return "table file " + file + " (" + what + std::to_string(DecodeSeq(f.smallestkey)) + ".." +
             std::to_string(DecodeSeq(f.largestkey)) + ")";
    }
    return "table file " + file + " (" + f.column_family_name + ")";
  }
  return "table file " + file;
}

Status Store::Convert(const rocksdb::Status& s, const std::string& what) const {
  if (s.ok()) return Status::Ok();
  std::string where = "journal " + dir_ + ": " + what + ": ";
  // RocksDB's words, without the newline some of them end in (a table file's size mismatch).
  std::string said = s.ToString();
  while (!said.empty() && std::isspace(static_cast<unsigned char>(said.back())))
    said.pop_back();
  std::string named = FileNamed(said);
  if (s.IsCorruption()) {
    std::string file = named.empty() ? "" : DescribeFile(named);
    if (file.empty() && db_ == nullptr) {
      // Opening reads the write-ahead log through and table files only for their metadata, and
      // RocksDB's checksum errors from the log do not name it: name the logs there are.
      std::vector<std::string> logs;
      std::error_code ec;
      for (const fs::directory_entry& f : fs::directory_iterator(dir_, ec)) {
        if (f.path().extension() == ".log") logs.push_back(f.path().filename().string());
      }
      std::sort(logs.begin(), logs.end());
      for (const std::string& log : logs)
        file += (file.empty() ? "" : ", ") + log;
      if (!file.empty()) file = "write-ahead log " + file;
    }
    // A damaged log can be read up to the damage (a point-in-time recovery); a damaged table or
    // MANIFEST cannot be read past; a missing file is a copy that left it out.
    bool missing = said.find("No such file") != std::string::npos;
    std::string advice =
        missing ? ". " + std::string(kCopyAgain)
        : file.starts_with("write-ahead log")
            ? ". drop-replay --salvage reads the entries before the damage; to run drop again, "
              "move the directory aside: drop starts a new journal and relists the cluster"
            : ". Restore the directory from a backup, or move it aside: drop starts a new journal "
              "and relists the cluster";
    std::string verdict = missing ? " is missing: " : " is damaged: ";
    return Status::Corruption(where + (file.empty() ? "" : file + verdict) + said + advice);
  }
  if (!named.empty() && !named.ends_with(".log") && db_ == nullptr &&
      said.find("No such file") != std::string::npos) {
    // A file the journal needs is missing or unreadable: a copy that left some out.
    return Status::IOError(where + "cannot read its " + DescribeFile(named) + ": " + said + ". " +
                           std::string(kCopyAgain));
  }
  if (s.IsNotFound()) return Status::NotFound(where + said);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(where + said);
  if (s.IsBusy() || s.IsTryAgain()) return Status::Unavailable(where + said);
  return Status::IOError(where + said);
}

Result<uint64_t> Store::MetaNumber(std::string_view key) const {
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), meta(), rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return uint64_t{0};
  if (!s.ok()) return Convert(s, "read meta " + std::string(key));
  Result<uint64_t> n = ParseNumber(value, "meta " + std::string(key));
  if (!n.ok()) return Status::Corruption("journal " + dir_ + ": " + n.status().message());
  return n;
}

Result<uint32_t> Store::SchemaVersion() const {
  Result<uint64_t> v = MetaNumber(kSchemaVersionKey);
  if (!v.ok()) return v.status();
  if (*v > std::numeric_limits<uint32_t>::max()) {
    return Status::Corruption("journal " + dir_ + ": meta schema_version is " + std::to_string(*v) +
                              ", not a schema version; the meta column "
                              "family is damaged");
  }
  return static_cast<uint32_t>(*v);
}

Result<std::pair<uint64_t, uint64_t>> Store::Range() const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), entries()));
  it->SeekToFirst();
  if (!it->Valid()) {
    if (!it->status().ok()) return Convert(it->status(), "read entries");
    return std::pair<uint64_t, uint64_t>{1, 0};
  }
  // Keys are sequence numbers from 1 on: anything else at either end is damage, which would
  // otherwise read as an empty journal or one that starts at 0.
  auto seq = [&](const char* end) -> Result<uint64_t> {
    std::string_view key = it->key().ToStringView();
    uint64_t seq = DecodeSeq(key);
    if (seq > 0) return seq;
    return Status::Corruption(
        "journal " + dir_ + ": the " + end + " key of the entries column family is " +
        (key.size() == 8 ? std::string("sequence number 0, which drop never writes")
                         : std::to_string(key.size()) + " bytes, not a sequence number") +
        "; the journal is damaged. Restore the directory from a backup, or move it aside: drop "
        "starts a new journal and relists the cluster");
  };
  Result<uint64_t> first = seq("first");
  if (!first.ok()) return first.status();
  it->SeekToLast();
  if (!it->Valid()) return Convert(it->status(), "read entries");
  Result<uint64_t> last = seq("last");
  if (!last.ok()) return last.status();
  return std::pair<uint64_t, uint64_t>{*first, *last};
}

Result<v1::Entry> Store::Get(uint64_t seq) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), entries(), EncodeSeq(seq), &value);
  if (s.IsNotFound()) {
    return Status::NotFound("journal " + dir_ + ": no entry " + std::to_string(seq));
  }
  if (!s.ok()) return Convert(s, "read entry " + std::to_string(seq));
  v1::Entry e;
  if (!e.ParseFromString(value) || e.seq() != seq) {
    return Status::Corruption("journal " + dir_ + ": entry " + std::to_string(seq) +
                              " does not decode as a drop.v1.Entry; the journal is damaged");
  }
  return e;
}

Store::Iterator::Iterator(const Store* store, std::unique_ptr<rocksdb::Iterator> it, uint64_t from,
                          uint64_t to, Store::Decode decode)
    : store_(store), it_(std::move(it)), expect_(from), to_(to), decode_(decode) {
  it_->Seek(EncodeSeq(from));
  Load();
}

void Store::Iterator::Next() {
  if (!valid_) return;
  it_->Next();
  Load();
}

void Store::Iterator::Load() {
  valid_ = false;
  decoded_current_ = false;
  if (expect_ > to_) return;
  if (!it_->Valid()) {
    if (!it_->status().ok()) status_ = store_->Convert(it_->status(), "read entries");
    return;
  }
  uint64_t seq = DecodeSeq(it_->key().ToStringView());
  if (seq > to_) return;
  if (seq != expect_) {
    status_ =
        Status::Corruption("journal " + store_->dir_ + ": entries " + std::to_string(expect_) +
                           ".." + std::to_string(seq - 1) + " are missing; the journal is damaged");
    return;
  }
  bytes_ = it_->value().ToStringView();
  ++expect_;
  valid_ = true;
  if (decode_ == Store::Decode::kEach) Decode();
}

bool Store::Iterator::Decode() {
  if (!valid_ || decoded_current_) return valid_;
  // Arena memory is freed all at once: start a fresh arena every kArenaEntries decodes.
  constexpr int kArenaEntries = 512;
  if (decoded_++ % kArenaEntries == 0) {
    entry_ = nullptr;
    arena_ = std::make_unique<google::protobuf::Arena>();
    entry_ = google::protobuf::Arena::CreateMessage<v1::Entry>(arena_.get());
  } else {
    entry_->Clear();
  }
  uint64_t seq = expect_ - 1;
  if (!entry_->ParseFromArray(bytes_.data(), static_cast<int>(bytes_.size())) ||
      entry_->seq() != seq) {
    status_ = Status::Corruption("journal " + store_->dir_ + ": entry " + std::to_string(seq) +
                                 " does not decode as a drop.v1.Entry; the journal is damaged");
    valid_ = false;
    return false;
  }
  decoded_current_ = true;
  return true;
}

Store::Iterator Store::Entries(uint64_t from, uint64_t to, Decode decode) const {
  rocksdb::ReadOptions read;
  read.readahead_size = 2 << 20;  // replay reads the journal front to back
  read.fill_cache = false;        // once: caching the blocks only costs
  return Iterator(this, std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(read, entries())), from,
                  to, decode);
}

Result<Store::SnapshotInfo> Store::SnapshotRecord(const rocksdb::Iterator& it) const {
  std::string_view key =
      it.key().ToStringView().substr(std::string_view(kSnapshotTimePrefix).size());
  uint64_t seq = DecodeSeq(key);
  Result<uint64_t> time = ParseNumber(it.value().ToString(), "its time");
  if (seq == 0) {
    return Status::Corruption("journal " + dir_ +
                              ": a snapshot record's key is not a sequence number; the journal is "
                              "damaged");
  }
  if (!time.ok()) {
    return Status::Corruption("journal " + dir_ + ": the record of the snapshot at entry " +
                              std::to_string(seq) + " holds no time (" + time.status().message() +
                              "); the journal is damaged");
  }
  return SnapshotInfo{seq, static_cast<int64_t>(*time)};
}

Result<std::vector<Store::SnapshotInfo>> Store::Snapshots() const {
  std::vector<SnapshotInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
  const std::string_view prefix(kSnapshotTimePrefix);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    Result<SnapshotInfo> record = SnapshotRecord(*it);
    if (!record.ok()) return record.status();
    out.push_back(*record);
  }
  if (!it->status().ok()) return Convert(it->status(), "read the snapshot records");
  return out;
}

Result<std::optional<std::pair<uint64_t, v1::State>>> Store::SnapshotAtOrBefore(
    uint64_t seq) const {
  using Found = std::optional<std::pair<uint64_t, v1::State>>;
  // The records say which snapshots there are (each is written in one batch with its snapshot,
  // and verify checks those): a snapshot without one is not used.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta()));
  const std::string prefix(kSnapshotTimePrefix);
  it->SeekForPrev(prefix + EncodeSeq(seq));
  if (!it->Valid() || !it->key().starts_with(prefix)) {
    if (!it->status().ok()) return Convert(it->status(), "read the snapshot records");
    return Found();
  }
  Result<SnapshotInfo> record = SnapshotRecord(*it);
  if (!record.ok()) return record.status();
  Result<std::string> bytes = SnapshotBytes(record->seq);
  if (!bytes.ok()) return bytes.status();
  Result<v1::State> state = DecodeSnapshot(record->seq, *bytes);
  if (!state.ok()) return state.status();
  return Found(std::make_pair(record->seq, std::move(*state)));
}

Result<v1::State> Store::DecodeSnapshot(uint64_t seq, std::string_view bytes) const {
  v1::State state;
  if (Status s = DecodeSnapshot(seq, bytes, &state); !s.ok()) return s;
  return state;
}

Status Store::DecodeSnapshot(uint64_t seq, std::string_view bytes, v1::State* state) const {
  if (!state->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      state->last_seq() != seq) {
    return Status::Corruption("journal " + dir_ + ": the snapshot at entry " + std::to_string(seq) +
                              " does not decode as a drop.v1.State; the journal is damaged");
  }
  if (state->schema_version() < kSchemaVersion) UpgradeState(state);
  return Status::Ok();
}

Result<std::string> Store::SnapshotBytes(uint64_t seq) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), snapshots(), EncodeSeq(seq), &value);
  if (s.IsNotFound()) {
    return Status::Corruption("journal " + dir_ + ": the snapshot at entry " + std::to_string(seq) +
                              " is listed but missing; the journal is damaged");
  }
  if (!s.ok()) return Convert(s, "read the snapshot at entry " + std::to_string(seq));
  return value;
}

Result<uint64_t> Store::SeqAtOrAfter(int64_t time_ms) const {
  Result<std::pair<uint64_t, uint64_t>> range = Range();
  if (!range.ok()) return range.status();
  uint64_t lo = range->first, hi = range->second + 1;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    Result<v1::Entry> e = Get(mid);
    if (!e.ok()) return e.status();
    if (e->time_ms() >= time_ms) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;  // range.second + 1 when every entry is older
}

Result<v1::State> Store::StateAt(uint64_t seq) const {
  Result<std::pair<uint64_t, uint64_t>> range = Range();
  if (!range.ok()) return range.status();
  Result<std::optional<std::pair<uint64_t, v1::State>>> snap = SnapshotAtOrBefore(seq);
  if (!snap.ok()) return snap.status();
  v1::State state = InitialState();
  uint64_t from = 1;
  if (snap->has_value()) {
    from = (*snap)->first + 1;
    state = std::move((*snap)->second);
    // Retention may have dropped every entry up to it, this one too.
    if (from == seq + 1) return state;
  }
  if (from < range->first && from <= seq) {
    return Status::InvalidArgument("journal " + dir_ + ": entry " + std::to_string(seq) +
                                   " is before the oldest point the journal can rebuild (entries " +
                                   "start at " + std::to_string(range->first) +
                                   " after retention)");
  }
  if (seq > range->second) {
    return Status::InvalidArgument("journal " + dir_ + ": entry " + std::to_string(seq) +
                                   " is after the last one (" + std::to_string(range->second) +
                                   ")");
  }
  if (Status s = Fold(from, seq, &state); !s.ok()) return s;
  return state;
}

namespace {

// What Apply (core/fold.cc) reads of a stored entry: of a ReconcileStarted (Entry field 20) and
// of an Event (Entry.action 23, ActionIssued.emit_event 4), nothing but the envelope.
ReadAhead::Need FoldNeeds(std::string_view bytes) {
  std::string_view kind, action;
  switch (wire::EntryKind(bytes, &kind)) {
    case 20:
      return ReadAhead::Need::kEnvelope;
    case 23:
      return wire::MessageField(kind, 1, &action) == 4 ? ReadAhead::Need::kEnvelope
                                                       : ReadAhead::Need::kWhole;
    default:
      return ReadAhead::Need::kWhole;
  }
}

}  // namespace

Status Store::Fold(uint64_t from, uint64_t to, v1::State* state) const {
  // Below a few chunks a second thread costs more than it saves.
  constexpr uint64_t kReadAheadFrom = 4096;
  if (to < from || to - from < kReadAheadFrom) {
    Iterator it = Entries(from, to);
    for (; it.Valid(); it.Next())
      Apply(it.entry(), state);
    return it.status();
  }
  ReadAhead entries(*this, from, to, FoldNeeds);
  while (const std::vector<const v1::Entry*>* chunk = entries.Next()) {
    for (const v1::Entry* e : *chunk)
      Apply(*e, state);
  }
  return entries.status();
}

Status Store::CatchUp() {
  if (mode_ != Mode::kSecondary) return Status::Ok();
  return Convert(db_->TryCatchUpWithPrimary(), "catch up with the writer");
}

Status Store::Checkpoint(const std::string& dest) const {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (s.ok()) s = checkpoint->CreateCheckpoint(dest);
  return Convert(s, "checkpoint to " + dest);
}

Status Store::VerifyChecksums() const {
  return Convert(db_->VerifyChecksum(), "verify checksums");
}

uint64_t Store::BytesOnDisk() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const fs::directory_entry& f : fs::directory_iterator(dir_, ec)) {
    if (f.is_regular_file(ec)) total += f.file_size(ec);
  }
  return total;
}

}  // namespace drop::journal
