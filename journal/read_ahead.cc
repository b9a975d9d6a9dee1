#include "journal/read_ahead.h"

#include <rocksdb/db.h>

#include "journal/format.h"
#include "journal/store.h"
#include "journal/wire.h"

namespace drop::journal {

namespace {
// Entries in a chunk, and chunks at most: enough for either thread to always find work, little
// enough that a replay's memory stays a few megabytes whatever the journal's length.
constexpr size_t kChunkEntries = 1024;
constexpr size_t kChunks = 8;
constexpr size_t kArenaBlock = 512 << 10;  // a chunk's decoded entries fit, as a rule

google::protobuf::ArenaOptions ArenaOptions(char* block) {
  google::protobuf::ArenaOptions o;
  o.initial_block = block;
  o.initial_block_size = kArenaBlock;
  o.max_block_size = 256 << 10;
  return o;
}
}  // namespace

struct ReadAhead::Chunk {
  enum class Stage { kRead, kDecoding, kDecoded };
  struct Span {
    uint64_t seq;
    uint32_t offset, size;
    Need need;
  };
  std::string bytes;
  std::vector<Span> spans;
  Stage stage = Stage::kRead;
  bool decoded_here = false;  // by the caller's thread
  // The arena's first block is the chunk's own and survives Reset: decoding a chunk allocates
  // only the strings its entries hold.
  std::unique_ptr<char[]> block{new char[kArenaBlock]};
  google::protobuf::Arena arena{ArenaOptions(block.get())};
  std::vector<const v1::Entry*> entries;
  Status status;  // the first entry that did not decode

  void Reset() {
    if (stage == Stage::kRead && spans.empty()) return;  // already
    decoded_here = false;
    bytes.clear();
    spans.clear();
    stage = Stage::kRead;
    entries.clear();
    arena.Reset();
    status = Status::Ok();
  }
};

ReadAhead::ReadAhead(const Store& store, uint64_t from, uint64_t to, Filter filter, Skim skim)
    : store_(store), from_(from), to_(to), filter_(filter), skim_(skim), thread_([this] {
        Run();
      }) {}

ReadAhead::~ReadAhead() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Status ReadAhead::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

const std::vector<const v1::Entry*>* ReadAhead::Next() {
  std::unique_lock lock(mu_);
  if (current_ != nullptr) {
    // Memory goes back to the allocator of the thread that decoded it: freeing another thread's
    // blocks would contend for its allocator's lock.
    if (current_->decoded_here) {
      lock.unlock();
      current_->Reset();
      lock.lock();
    }
    free_.push_back(current_);
    current_ = nullptr;
    cv_.notify_all();
  }
  if (!status_.ok()) return nullptr;
  cv_.wait(lock, [&] { return !ready_.empty() || done_; });
  if (ready_.empty()) return nullptr;
  Chunk* c = ready_.front();
  ready_.pop_front();
  if (c->stage == Chunk::Stage::kRead) {
    c->stage = Chunk::Stage::kDecoding;
    lock.unlock();
    Decode(c);
    c->decoded_here = true;
    lock.lock();
    c->stage = Chunk::Stage::kDecoded;
  } else {
    cv_.wait(lock, [&] { return c->stage == Chunk::Stage::kDecoded; });
  }
  current_ = c;
  if (!c->status.ok()) status_ = c->status;  // the entries before the bad one still count
  return c->entries.empty() ? nullptr : &c->entries;
}

void ReadAhead::Run() {
  rocksdb::ReadOptions read;
  read.readahead_size = 2 << 20;
  read.fill_cache = false;  // read once, front to back: caching the blocks only costs
  std::unique_ptr<rocksdb::Iterator> it(store_.db()->NewIterator(read, store_.entries()));
  Chunk* chunk = nullptr;
  Status status;
  uint64_t expect = from_;
  for (it->Seek(EncodeSeq(expect)); it->Valid() && expect <= to_; it->Next(), ++expect) {
    uint64_t seq = DecodeSeq(it->key().ToStringView());
    if (seq > to_) break;
    if (seq != expect) {
      status = Status::Corruption("journal " + store_.dir() + ": entries " +
                                  std::to_string(expect) + ".." + std::to_string(seq - 1) +
                                  " are missing; the journal is damaged");
      break;
    }
    std::string_view bytes = it->value().ToStringView();
    Need need = filter_ != nullptr ? filter_(bytes) : Need::kWhole;
    if (need == Need::kNothing) continue;
    if (need == Need::kSkim && skim_ == nullptr) need = Need::kWhole;
    if (chunk == nullptr) {
      std::unique_lock lock(mu_);
      chunk = TakeFree(lock);
      if (chunk == nullptr) return;  // the caller is gone
    }
    chunk->spans.push_back({seq, static_cast<uint32_t>(chunk->bytes.size()),
                            static_cast<uint32_t>(bytes.size()), need});
    chunk->bytes.append(bytes);
    if (chunk->spans.size() == kChunkEntries) {
      if (!Hand(chunk)) return;
      chunk = nullptr;
    }
  }
  if (status.ok() && !it->status().ok()) status = store_.Convert(it->status(), "read entries");
  if (chunk != nullptr && !Hand(chunk)) return;  // a chunk is taken only to hold an entry
  std::unique_lock lock(mu_);
  if (!status.ok()) {
    // After the entries before the damage: a chunk that says so.
    Chunk* bad = TakeFree(lock);
    if (bad == nullptr) return;
    bad->status = status;
    bad->stage = Chunk::Stage::kDecoded;
    ready_.push_back(bad);
  }
  done_ = true;
  cv_.notify_all();
}

ReadAhead::Chunk* ReadAhead::TakeFree(std::unique_lock<std::mutex>& lock) {
  while (!stop_) {
    if (!free_.empty()) {
      Chunk* c = free_.back();
      free_.pop_back();
      lock.unlock();
      c->Reset();
      lock.lock();
      return c;
    }
    if (chunks_.size() < kChunks) {
      chunks_.push_back(std::make_unique<Chunk>());
      return chunks_.back().get();
    }
    // Every chunk is read and the caller is behind: decode for it.
    if (!HelpDecode(lock, 0)) cv_.wait(lock);
  }
  return nullptr;
}

bool ReadAhead::Hand(Chunk* chunk) {
  std::unique_lock lock(mu_);
  if (stop_) return false;
  ready_.push_back(chunk);
  cv_.notify_all();
  // While the caller has a chunk to go on with, decode the newest one for it.
  while (HelpDecode(lock, 1)) {
  }
  return !stop_;
}

bool ReadAhead::HelpDecode(std::unique_lock<std::mutex>& lock, size_t leave) {
  size_t waiting = 0;
  Chunk* newest = nullptr;
  for (Chunk* c : ready_) {
    if (c->stage != Chunk::Stage::kRead) continue;
    ++waiting;
    newest = c;
  }
  if (waiting <= leave || stop_) return false;
  newest->stage = Chunk::Stage::kDecoding;
  lock.unlock();
  Decode(newest);
  lock.lock();
  newest->stage = Chunk::Stage::kDecoded;
  cv_.notify_all();
  return true;
}

void ReadAhead::Decode(Chunk* chunk) const {
  chunk->entries.reserve(chunk->spans.size());
  for (const Chunk::Span& span : chunk->spans) {
    std::string_view bytes(chunk->bytes.data() + span.offset, span.size);
    auto* e = google::protobuf::Arena::CreateMessage<v1::Entry>(&chunk->arena);
    bool ok = false;
    if (span.need == Need::kWhole) {
      ok = e->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
    } else {
      // schema.proto: Entry.seq = 1, time_ms = 2, reconcile_id = 3.
      ok = wire::ForEachField(bytes, 0, bytes.size(),
                              [&](int field, int type, uint64_t v, std::string_view) {
                                if (type != 0) return true;
                                if (field == 1) e->set_seq(v);
                                if (field == 2) e->set_time_ms(static_cast<int64_t>(v));
                                if (field == 3) e->set_reconcile_id(v);
                                return true;
                              }) &&
           (span.need != Need::kSkim || skim_(bytes, e));
    }
    if (!ok || e->seq() != span.seq) {
      chunk->status =
          Status::Corruption("journal " + store_.dir() + ": entry " + std::to_string(span.seq) +
                             " does not decode as a drop.v1.Entry; the journal is "
                             "damaged");
      return;
    }
    chunk->entries.push_back(e);
  }
}

}  // namespace drop::journal
