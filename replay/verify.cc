#include "replay/verify.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>
#include <google/protobuf/text_format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "core/build.h"
#include "core/duration.h"
#include "core/fold.h"
#include "core/index.h"
#include "core/pacing.h"
#include "core/state.h"
#include "core/step.h"
#include "journal/wire.h"
#include "replay/describe.h"
#include "replay/release.h"
#include "replay/table.h"

namespace drop::replay {
namespace {

// Entries [first, last] checked from `start`, the state after entry first - 1.
struct Segment {
  uint64_t first, last;
  bool ends_at_snapshot;
};

struct SegmentResult {
  uint64_t inputs = 0, decisions = 0, unverifiable = 0;
  bool snapshot_checked = false;
  std::optional<Divergence> divergence;
  std::string snapshot_mismatch;
  std::string snapshot_by;  // the build that wrote that snapshot
  Status status;
};

// Whether `e` carries fields of a newer schema than this build's.
bool HasUnknownFields(const v1::Entry& e) {
  v1::Entry known = e;
  known.DiscardUnknownFields();
  return known.ByteSizeLong() != e.ByteSizeLong();
}

// Whether a stored entry is a decision, judged from its kind's field number without decoding it.
bool IsStoredDecision(std::string_view bytes) {
  std::string_view kind;
  int field = journal::wire::EntryKind(bytes, &kind);
  return field >= v1::Entry::kReconcileFieldNumber && field <= v1::Entry::kActionFieldNumber;
}

// Takes a message's serialization a piece at a time and compares each piece with the bytes
// expected there, as it comes: a State of tens of megabytes is compared in a buffer that stays in
// the cache, never laid out whole.
class CompareStream : public google::protobuf::io::ZeroCopyOutputStream {
 public:
  explicit CompareStream(std::string_view expected) : expected_(expected) {}
  bool Next(void** data, int* size) override {
    Compare();
    *data = buffer_.data();
    *size = static_cast<int>(buffer_.size());
    handed_ = buffer_.size();
    return true;
  }
  void BackUp(int count) override { handed_ -= static_cast<size_t>(count); }
  int64_t ByteCount() const override { return static_cast<int64_t>(compared_ + handed_); }
  // Whether everything written equals the expected bytes, all of them.
  bool Equal() {
    Compare();
    return equal_ && compared_ == expected_.size();
  }

 private:
  void Compare() {
    if (equal_ && handed_ > 0) {
      equal_ = compared_ + handed_ <= expected_.size() &&
               std::memcmp(buffer_.data(), expected_.data() + compared_, handed_) == 0;
    }
    compared_ += handed_;
    handed_ = 0;
  }

  std::string_view expected_;
  std::array<char, 64 << 10> buffer_;
  size_t compared_ = 0, handed_ = 0;
  bool equal_ = true;
};

// Whether `message` serializes to `bytes`.
bool SerializesTo(const google::protobuf::MessageLite& message, std::string_view bytes) {
  if (message.ByteSizeLong() != bytes.size()) return false;
  CompareStream stream(bytes);
  {
    google::protobuf::io::CodedOutputStream coded(&stream);
    message.SerializeWithCachedSizes(&coded);
  }
  return stream.Equal();
}

// Entries a segment checks between two updates of the shared count.
constexpr uint64_t kProgressStep = 1024;

// Counts the entries a segment has checked into the shared count, a step at a time and the rest
// when the segment ends, however it ends.
class Tally {
 public:
  explicit Tally(std::atomic<uint64_t>* total) : total_(total) {}
  ~Tally() { *total_ += seen_ - added_; }
  void Add() {
    if (++seen_ - added_ == kProgressStep) {
      *total_ += kProgressStep;
      added_ = seen_;
    }
  }

 private:
  std::atomic<uint64_t>* total_;
  uint64_t seen_ = 0, added_ = 0;
};

// Checks the segment's entries, folding them into *state (and *index, unless null) from the state
// after entry seg.first - 1.
SegmentResult Check(const journal::Store& store, const Segment& seg, v1::State* state, Index* index,
                    std::atomic<uint64_t>* checked) {
  SegmentResult out;
  Tally tally(checked);
  std::vector<v1::Entry> recomputed;
  size_t next = 0;
  // The input whose decisions are being checked, kept as stored: decoded again only to be shown.
  std::string input_bytes;
  auto input = [&] {
    v1::Entry e;
    e.ParseFromString(input_bytes);
    return e;
  };
  bool seen_input = false;
  std::string bytes;
  journal::Store::Iterator it =
      store.Entries(seg.first, seg.last, journal::Store::Decode::kOnDemand);
  for (; it.Valid(); it.Next()) {
    tally.Add();
    // A decision is compared by its bytes: it is decoded only to be folded or shown.
    bool decision = IsStoredDecision(it.bytes());
    if (!decision) {
      if (!it.Decode()) break;
      decision = IsDecision(it.entry());
    }
    if (!decision) {
      const v1::Entry& e = it.entry();
      if (next < recomputed.size()) {
        out.divergence = Divergence{e.seq(),
                                    input(),
                                    e,
                                    recomputed[next],
                                    "Step decides more than the journal recorded for the input",
                                    {}};
        return out;
      }
      input_bytes = it.bytes();
      seen_input = true;
      ++out.inputs;
      recomputed = Step(e, state, index, DecisionForm::kJournal);
      next = 0;
      continue;
    }
    if (!seen_input) {  // its input lies before the segment: fold it, it cannot be checked
      if (!it.Decode()) break;
      Apply(it.entry(), state, index);
      ++out.unverifiable;
      continue;
    }
    ++out.decisions;
    if (next >= recomputed.size()) {
      if (!it.Decode()) break;
      out.divergence = Divergence{it.entry().seq(),
                                  input(),
                                  it.entry(),
                                  std::nullopt,
                                  "the journal records a decision Step does not make",
                                  {}};
      return out;
    }
    v1::Entry& mine = recomputed[next];
    bytes.clear();
    mine.SerializeToString(&bytes);
    if (bytes != it.bytes()) {
      if (!it.Decode()) break;
      const v1::Entry& e = it.entry();
      v1::Entry in = input();
      if (HasUnknownFields(e) || HasUnknownFields(in)) {
        out.status = Status::FailedPrecondition(
            "entry " + std::to_string(HasUnknownFields(e) ? e.seq() : in.seq()) +
            " holds fields this drop-replay does not know: a newer drop wrote the journal, so "
            "its decisions cannot be re-run here; use the drop-replay of that drop's version");
        return out;
      }
      out.divergence = Divergence{e.seq(), std::move(in), e, mine, "the decisions differ", {}};
      return out;
    }
    ++next;
  }
  if (!it.status().ok()) {
    out.status = it.status();
    return out;
  }
  if (next < recomputed.size()) {
    out.divergence = Divergence{seg.last + 1,
                                input(),
                                std::nullopt,
                                recomputed[next],
                                "Step decides more than the journal recorded for the input",
                                {}};
    return out;
  }
  if (seg.ends_at_snapshot) {
    // Equal States serialize to equal bytes: the stored ones are decoded only when they differ
    // (a snapshot written by another build may order its bytes otherwise).
    Result<std::string> stored = store.SnapshotBytes(seg.last);
    if (!stored.ok()) {
      out.status = stored.status();
      return out;
    }
    out.snapshot_checked = true;
    if (SerializesTo(*state, *stored)) return out;
    Result<v1::State> snap = store.DecodeSnapshot(seg.last, *stored);
    if (!snap.ok()) {
      out.status = snap.status();
      return out;
    }
    if (!SerializesTo(*state, snap->SerializeAsString())) {
      out.snapshot_mismatch = "the snapshot after entry " + std::to_string(seg.last) +
                              " is not the fold of the entries before it";
      out.snapshot_by = snap->config().version();  // the operator's, as it folded its start
    }
  }
  return out;
}

// Loads into *state the state after entry `seq`, where a run starts: the journal's origin or a
// snapshot, decoded straight into *state.
Status LoadState(const Reader& r, uint64_t seq, v1::State* state) {
  if (seq != r.origin().seq) {
    Result<std::string> bytes = r.store().SnapshotBytes(seq);
    if (!bytes.ok()) return bytes.status();
    return r.store().DecodeSnapshot(seq, *bytes, state);
  }
  Result<v1::State> loaded = r.StateAt(r.origin());
  if (!loaded.ok()) return loaded.status();
  state->CopyFrom(*loaded);
  return Status::Ok();
}

// A run's State, on an arena: folding allocates its records without a malloc each, and they go
// all at once instead of one free at a time (a State of 50,000 pod records took a tenth of a
// second to tear down). The arena frees nothing before then, not even what the fold erases, so
// the State moves to a fresh arena now and then (MoveIfGrown).
class RunState {
 public:
  // The state after entry `seq`: the journal's origin or a snapshot.
  Status Load(const Reader& r, uint64_t seq, bool walk) {
    Renew();
    if (Status s = LoadState(r, seq, state_); !s.ok()) return s;
    Laid(walk);
    return Status::Ok();
  }
  // Moves the State to a fresh arena when the arena has grown by more than `growth` bytes since
  // the State was laid out: the live records are copied, the rest goes with the old arena.
  void MoveIfGrown(size_t growth, bool walk) {
    if (arena_->SpaceUsed() - laid_out_ <= growth) return;
    index_.reset();  // it points into the old State
    std::unique_ptr<google::protobuf::Arena> old = std::move(arena_);
    const v1::State* from = state_;
    Renew();
    state_->CopyFrom(*from);
    Laid(walk);
  }
  v1::State* state() { return state_; }
  Index* index() { return index_.get(); }

 private:
  void Renew() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = 1 << 20;
    o.max_block_size = 16 << 20;
    index_.reset();
    arena_ = std::make_unique<google::protobuf::Arena>(o);
    state_ = google::protobuf::Arena::CreateMessage<v1::State>(arena_.get());
  }
  void Laid(bool walk) {
    laid_out_ = arena_->SpaceUsed();
    if (!walk) index_ = std::make_unique<Index>(*state_);
  }

  std::unique_ptr<google::protobuf::Arena> arena_;
  v1::State* state_ = nullptr;
  size_t laid_out_ = 0;
  std::unique_ptr<Index> index_;  // after the arena: goes first
};

std::vector<std::string> TextLines(const std::optional<v1::Entry>& e) {
  std::vector<std::string> lines;
  if (!e) {
    lines.push_back("(nothing)");
    return lines;
  }
  std::string text;
  google::protobuf::TextFormat::PrintToString(*e, &text);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Where a check that starts before the range asked for starts: "starts at entry 1, as ...".
std::string CheckStart(const VerifyReport& rep) {
  if (rep.first == 1) {
    return "starts at entry 1, as no snapshot comes before entry " +
           std::to_string(rep.asked_first);
  }
  return "starts from the snapshot after entry " + std::to_string(rep.first - 1) +
         ", the newest before it";
}

boost::json::value JsonOf(const std::optional<v1::Entry>& e) {
  if (!e) return nullptr;
  return EntryDocument(*e);
}

// What the reconcile that diverged read: the key's slice of the state before the input.
void PrintInputs(const Reader& r, const Divergence& d, std::ostream& out) {
  out << "\nThe input that fed them: entry " << d.input.seq() << " ("
      << FormatTimeMillis(d.input.time_ms()) << ") " << KindName(d.input) << ": "
      << Summary(d.input) << '\n';
  for (const std::string& line : TextLines(d.input))
    out << "    " << line << '\n';
  // The reconcile the divergent entry belongs to, as Step decides it: where Step decides more
  // than the journal holds, the recorded entry is the next input, or another reconcile's start.
  const std::optional<v1::Entry>& entry = d.recomputed ? d.recomputed : d.recorded;
  uint64_t id = entry ? entry->reconcile_id() : 0;
  // A reconcile's start that Step decides is that reconcile; the journal may hold another there.
  Result<v1::Entry> started = entry && entry->has_reconcile() ? Result<v1::Entry>(*entry)
                              : id != 0                       ? r.store().Get(id)
                                        : Result<v1::Entry>(Status::NotFound(""));
  Result<v1::State> before = r.store().StateAt(d.input.seq() - 1);
  if (!before.ok()) {
    out << "(the state before it cannot be rebuilt: " << before.status().message() << ")\n";
    return;
  }
  const v1::State& s = *before;
  std::vector<v1::Key> keys = TouchedKeys(s, d.input);
  out << "Reconciles it triggers, in order:";
  for (const v1::Key& k : keys)
    out << ' ' << KeyString(k);
  out << "\n";
  // The slices shown: the triggered reconciles', and the CachedImage a policy's reconcile decided
  // about when that is where the divergence lies (its pass reads the image, and runs the image's
  // reconcile again when it moves the image's wait).
  std::vector<v1::Key> read = keys;
  if (started.ok() && started->has_reconcile()) {
    const v1::Key& of = started->reconcile().key();
    out << "The divergent entry belongs to reconcile " << id << " of " << KeyString(of);
    std::vector<std::string> objects = entry ? ObjectsOf(*entry) : std::vector<std::string>{};
    auto image = std::find_if(objects.begin(), objects.end(),
                              [](const std::string& o) { return o.starts_with("cachedimage/"); });
    if (of.kind() == v1::KIND_PULL_POLICY && image != objects.end()) {
      v1::Key k = MakeKey(v1::KIND_CACHED_IMAGE, image->substr(image->find('/') + 1));
      out << ", about " << KeyString(k);
      auto same = [&](const v1::Key& x) { return x.kind() == k.kind() && x.name() == k.name(); };
      if (std::none_of(read.begin(), read.end(), same)) read.push_back(k);
    }
    out << ".\n";
  }
  out << "State before the input (entry " << d.input.seq() - 1
      << "), as those reconciles read it:\n";
  for (const v1::Key& k : read) {
    if (k.kind() == v1::KIND_PULL_POLICY) {
      const v1::PullPolicySpec* spec = FindPolicySpec(s, k.name());
      out << "  " << KeyString(k) << ": ";
      if (spec == nullptr) {
        out << "does not exist\n";
        continue;
      }
      out << "maxConcurrentNodes " << spec->max_concurrent_nodes() << ", minDelayBetweenPulls "
          << FormatDuration(spec->min_delay_between_pulls_ms()) << ", active "
          << CountActive(s, k.name()) << ", last pod created "
          << (LastCreation(s, k.name()) > 0 ? FormatTimeMillis(LastCreation(s, k.name())) : "never")
          << '\n';
      int shown = 0;
      for (const v1::PodRecord& p : AllPods(s)) {
        if (p.policy() != k.name() || !IsActive(p)) continue;
        if (++shown > 10) {
          out << "    ...\n";
          break;
        }
        out << "    active pod " << p.pod().name() << " on " << p.pod().node() << ": "
            << PodPhaseText(p.pod()) << '\n';
      }
    } else {
      const v1::ImageRecord* i = Find(s.images(), k.name());
      out << "  " << KeyString(k) << ": ";
      if (i == nullptr) {
        out << "does not exist\n";
        continue;
      }
      out << i->object().spec().image() << " generation " << i->object().generation() << ", "
          << Count(i->pulled_nodes_size(), "node") << " pulled, "
          << Count(i->consecutive_failures(), "consecutive failure") << ", last start "
          << (i->last_start_ms() > 0 ? FormatTimeMillis(i->last_start_ms()) : "never")
          << ", status last written "
          << (i->status_written_ms() > 0 ? FormatTimeMillis(i->status_written_ms()) : "never")
          << '\n';
      const auto& pods = PodsOf(s, k.name());
      for (int p = 0; p < pods.size() && p < 10; ++p) {
        out << "    pod " << pods[p].pod().name() << " on " << pods[p].pod().node() << ": "
            << PodPhaseText(pods[p].pod()) << (pods[p].accounted() ? ", accounted" : "") << '\n';
      }
      if (pods.size() > 10) out << "    ...\n";
    }
  }
}

}  // namespace

Result<VerifyReport> Verify(const Reader& r, const VerifyOptions& o) {
  auto begin = std::chrono::steady_clock::now();
  VerifyReport report;
  if (r.empty()) return r.NoEntries();  // nothing was checked: not "clean"
  Result<std::pair<uint64_t, uint64_t>> range = r.Range(o.from, "--from", o.to, "--to");
  if (!range.ok()) return range.status();
  uint64_t from = range->first, to = range->second;
  if (to < from) {
    return Status::InvalidArgument(
        (o.to.empty() ? "--from " + o.from + " is the journal's last entry or after it"
                      : "--to " + o.to + " is entry " + std::to_string(to) + ", before entry " +
                            std::to_string(from)) +
        ": nothing to verify; the journal holds " + r.RangeText());
  }
  report.asked_first = from;
  report.asked_last = to;
  // Start at the newest snapshot before `from` (or the journal's origin); a range ends where the
  // decisions of its last input end.
  Result<std::vector<journal::Store::SnapshotInfo>> snapshots = r.store().Snapshots();
  if (!snapshots.ok()) return snapshots.status();
  uint64_t start = r.origin().seq;
  std::vector<uint64_t> cuts;
  for (const journal::Store::SnapshotInfo& s : *snapshots) {
    if (s.seq >= r.origin().seq && s.seq < from) start = std::max(start, s.seq);
  }
  for (const journal::Store::SnapshotInfo& s : *snapshots) {
    if (s.seq > start && s.seq < to) cuts.push_back(s.seq);
  }
  if (to < r.last()) {
    journal::Store::Iterator it = r.store().Entries(to + 1, r.last());
    while (it.Valid() && IsDecision(it.entry())) {
      ++to;
      it.Next();
    }
  }
  std::vector<Segment> segments;
  uint64_t at = start;
  for (uint64_t cut : cuts) {
    segments.push_back({at + 1, cut, true});
    at = cut;
  }
  segments.push_back({at + 1, to, false});

  report.jobs_asked = o.jobs;
  int jobs =
      o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  jobs = std::min<int>(jobs, static_cast<int>(segments.size()));
  // A thread checks a run of consecutive segments, carrying its state and index from one to the
  // next: only a run's first segment costs a snapshot load and an index build. Each thread starts
  // on a run of about equal entries; one that runs out of work takes the back half of the run
  // with the most segments left, from the snapshot where that half begins. So the threads stay
  // busy to the end whatever the segments cost, and a load is paid only where work is split.
  struct Run {
    size_t next, end;  // segments [next, end) are still to be checked
  };
  std::vector<Run> runs;
  // No more runs than threads: a run is checked by the thread it starts on, or split off.
  const uint64_t want = static_cast<uint64_t>(o.runs > 0 ? std::min(o.runs, jobs) : jobs);
  for (size_t i = 0; i < segments.size(); ++i) {
    uint64_t before = segments[i].first - (start + 1);
    if (runs.empty() || before * want >= runs.size() * (to - start)) {
      if (!runs.empty()) runs.back().end = i;
      runs.push_back({i, segments.size()});
    }
  }
  std::vector<SegmentResult> results(segments.size());
  std::atomic<uint64_t> diverged_at{~uint64_t{0}};
  std::atomic<uint64_t> checked{0};
  std::mutex runs_mu;
  // The next segment of run `run`, claimed; nullopt when the run is done, or a divergence before
  // the segment decides.
  auto claim = [&](size_t run) -> std::optional<size_t> {
    std::lock_guard lock(runs_mu);
    Run& rn = runs[run];
    if (rn.next >= rn.end || segments[rn.next].first > diverged_at.load()) return std::nullopt;
    return rn.next++;
  };
  // Leaves the rest of run `run` unchecked: it failed, or diverged.
  auto abandon = [&](size_t run) {
    std::lock_guard lock(runs_mu);
    runs[run].end = runs[run].next;
  };
  // A new run: the back half of the run with the most segments left, when it has two or more.
  auto steal = [&]() -> std::optional<size_t> {
    std::lock_guard lock(runs_mu);
    std::optional<size_t> victim;
    for (size_t k = 0; k < runs.size(); ++k) {
      size_t left = runs[k].end - runs[k].next;
      if (left >= 2 && (!victim || left > runs[*victim].end - runs[*victim].next)) victim = k;
    }
    if (!victim) return std::nullopt;
    const size_t end = runs[*victim].end;
    const size_t mid = end - (end - runs[*victim].next) / 2;
    if (segments[mid].first > diverged_at.load()) return std::nullopt;
    runs[*victim].end = mid;
    runs.push_back({mid, end});
    return runs.size() - 1;
  };
  auto work = [&](std::optional<size_t> run) {
    for (run = run ? run : steal(); run; run = steal()) {
      std::optional<size_t> i = claim(*run);
      if (!i) continue;
      const size_t first = *i;
      RunState run_state;
      if (Status s = run_state.Load(r, segments[first].first - 1, o.walk); !s.ok()) {
        results[first].status = s;
        abandon(*run);
        continue;
      }
      for (; i; i = claim(*run)) {
        if (*i > first) run_state.MoveIfGrown(o.arena_growth, o.walk);
        results[*i] =
            Check(r.store(), segments[*i], run_state.state(), run_state.index(), &checked);
        if (!results[*i].status.ok()) {
          abandon(*run);
          break;
        }
        if (results[*i].divergence) {
          // The state the check stopped in has folded the input, and with it the build that
          // recorded it (its OperatorStarted's config).
          results[*i].divergence->recorded_by = run_state.state()->config().version();
          uint64_t seq = results[*i].divergence->seq, cur = diverged_at.load();
          while (seq < cur && !diverged_at.compare_exchange_weak(cur, seq)) {
          }
          abandon(*run);
          break;
        }
      }
      FreeLater(std::move(run_state));
    }
  };
  const uint64_t total = to - start;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  std::thread reporter;
  if (o.progress) {
    reporter = std::thread([&] {
      std::unique_lock lock(mu);
      while (!done_cv.wait_for(lock, o.progress_every, [&] { return done; }))
        o.progress(std::min(checked.load(), total), total);
    });
  }
  // Each thread's first run, counted before any starts: a run has one thread, and the runs that
  // splitting adds belong to the threads that split them.
  const size_t first_runs = runs.size();
  auto initial = [&](int t) {
    return static_cast<size_t>(t) < first_runs ? std::optional<size_t>(t) : std::nullopt;
  };
  std::vector<std::thread> threads;
  for (int t = 1; t < jobs; ++t)
    threads.emplace_back(work, initial(t));
  work(initial(0));
  for (std::thread& t : threads)
    t.join();
  if (reporter.joinable()) {
    {
      std::lock_guard lock(mu);
      done = true;
    }
    done_cv.notify_all();
    reporter.join();
    bool stopped = diverged_at.load() != ~uint64_t{0};
    o.progress(stopped ? std::min(checked.load(), total) : total, total);
  }

  report.first = start + 1;
  report.last = to;
  report.jobs = jobs;
  report.gone_through = checked.load();
  for (size_t i = 0; i < segments.size(); ++i) {
    SegmentResult& s = results[i];
    if (segments[i].first > diverged_at.load()) break;
    if (!s.status.ok()) return s.status;
    report.inputs += s.inputs;
    report.decisions += s.decisions;
    if (i == 0) report.unverifiable = s.unverifiable;
    report.snapshots_checked += s.snapshot_checked;
    if (!s.snapshot_mismatch.empty() && report.snapshot_mismatch.empty()) {
      report.snapshot_mismatch = s.snapshot_mismatch;
      report.snapshot_by = s.snapshot_by;
    }
    if (s.divergence) {
      report.divergence = std::move(s.divergence);
      break;
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return report;
}

namespace {

// Where `what` (the input that diverged, the snapshot that is not the fold) was recorded by
// another build than this drop-replay: the builds may differ by design.
void OtherBuildNote(const char* what, const std::string& by, std::ostream& out) {
  if (!by.empty() && by != kBuild) {
    out << "The " << what << " was recorded by drop " << by << "; this drop-replay is " << kBuild
        << ". Where their decisions differ by design, this is not a fault: verify with the "
        << "drop-replay of " << by << " to check the recording itself.\n";
  } else if (by == kBuild && std::string_view(kBuild).ends_with(".dirty")) {
    // Two builds of one commit with local changes name themselves alike, and may decide otherwise.
    out << "The " << what << " was recorded by a build named as this one, " << kBuild
        << ", which has local changes: if they were not the same changes, the builds may differ "
        << "by design here.\n";
  }
}

}  // namespace

void PrintVerify(const Reader& r, const VerifyReport& rep, Format format, std::ostream& out) {
  // The decisions that matched: a divergent recorded one is counted in rep.decisions.
  const uint64_t matched = rep.decisions - (rep.divergence && rep.divergence->recorded ? 1 : 0);
  if (format != Format::kTable) {
    boost::json::object doc;
    doc["result"] = rep.clean() ? "clean" : "diverged";
    // The range checked, which a snapshot before --from and the decisions after --to widen.
    doc["firstSeq"] = rep.first;
    doc["lastSeq"] = rep.last;
    doc["askedFirstSeq"] = rep.asked_first;
    doc["askedLastSeq"] = rep.asked_last;
    doc["inputs"] = rep.inputs;
    doc["decisions"] = matched;
    doc["snapshotsChecked"] = rep.snapshots_checked;
    // Whole milliseconds: a double prints as 5.511374E-3 in JSON.
    doc["milliseconds"] = std::llround(rep.seconds * 1000);
    if (rep.divergence) {
      const Divergence& d = *rep.divergence;
      doc["matchedThrough"] = d.seq - 1;  // as the text says it
      doc["divergence"] = boost::json::object{{"seq", d.seq},
                                              {"what", d.what},
                                              {"input", JsonOf(d.input)},
                                              {"recorded", JsonOf(d.recorded)},
                                              {"recomputed", JsonOf(d.recomputed)},
                                              {"recordedBy", d.recorded_by},
                                              {"recomputedBy", kBuild}};
    }
    if (!rep.snapshot_mismatch.empty()) {
      doc["snapshotMismatch"] = rep.snapshot_mismatch;
      doc["snapshotRecordedBy"] = rep.snapshot_by;
    }
    Print(doc, format, out);
    return;
  }
  char figures[64];
  std::snprintf(figures, sizeof figures, "%.2f s, %.0f entries/s on ", rep.seconds,
                rep.seconds > 0 ? static_cast<double>(rep.gone_through) / rep.seconds : 0.0);
  std::string speed = figures + Count(rep.jobs, "thread");
  if (rep.jobs < rep.jobs_asked) {
    speed += " (not " + std::to_string(rep.jobs_asked) + ": threads check the stretches between " +
             "snapshots apart, and this range has " + std::to_string(rep.jobs) + ")";
  }
  if (rep.clean()) {
    out << "verify: clean. Entries " << rep.first << ".." << rep.last << " ("
        << Count(rep.inputs, "input") << ", " << Count(matched, "decision")
        << "): every decision Step makes from the "
        << "inputs before it equals the recorded one, byte for byte.\n";
    if (rep.snapshots_checked > 0) {
      out << "snapshots: " << rep.snapshots_checked << " checked; each equals the fold of the "
          << "entries before it.\n";
    }
    if (rep.first < rep.asked_first || rep.last > rep.asked_last) {
      out << "note: asked for entries " << rep.asked_first << ".." << rep.asked_last
          << "; the check ";
      if (rep.first < rep.asked_first) {
        out << CheckStart(rep) << (rep.last > rep.asked_last ? ", and " : ".\n");
      }
      if (rep.last > rep.asked_last) {
        out << "runs on to entry " << rep.last << ", the last decision of the inputs it was "
            << "asked for.\n";
      }
    }
    if (rep.unverifiable > 0) {
      out << "note: the first " << rep.unverifiable << " entries are decisions of an input "
          << "before the journal's start; they were folded, not checked.\n";
    }
    out << speed << '\n';
    return;
  }
  if (!rep.divergence) {
    out << "verify: FINDING. " << rep.snapshot_mismatch << "; the decisions up to it match.\n";
    OtherBuildNote("snapshot", rep.snapshot_by, out);
    out << speed << '\n';
    return;
  }
  const Divergence& d = *rep.divergence;
  out << "verify: DIVERGENCE at entry " << d.seq << " (input " << d.input.seq() << ", "
      << FormatTimeMillis(d.input.time_ms()) << "): " << d.what << ".\n"
      << "Entries " << rep.first << ".." << d.seq - 1 << " match (" << Count(rep.inputs, "input")
      << ", " << Count(matched, "decision") << ").\n";
  if (rep.first < rep.asked_first) {
    out << "note: asked for entries " << rep.asked_first << ".." << rep.asked_last << "; the check "
        << CheckStart(rep) << (d.seq < rep.asked_first ? ", and found this before them.\n" : ".\n");
  }
  OtherBuildNote("input", d.recorded_by, out);
  out << '\n';
  std::vector<std::string> a = TextLines(d.recorded), b = TextLines(d.recomputed);
  size_t width = 36;
  for (const std::string& l : a)
    width = std::max(width, l.size());
  width = std::min<size_t>(width, 70);
  auto cell = [&](const std::string& s) {
    std::string c = s.size() > width ? s.substr(0, width - 3) + "..." : s;
    return c + std::string(width - c.size(), ' ');
  };
  out << "  " << cell("RECORDED (in the journal, entry " + std::to_string(d.seq) + ")") << " | "
      << "RECOMPUTED (Step)\n";
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    std::string x = i < a.size() ? a[i] : "", y = i < b.size() ? b[i] : "";
    out << (x == y ? "  " : "* ") << cell(x) << " | " << y << '\n';
    // The recorded side is cut to its column: a difference past the cut shows here.
    if (x != y && x.size() > width) out << "  (recorded, whole: " << x << ")\n";
  }
  PrintInputs(r, d, out);
  out << '\n' << speed << '\n';
}

}  // namespace drop::replay
