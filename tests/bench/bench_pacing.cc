// bench_pacing: drop-replay's simulator and the tool on a big journal (issue 11).
//   pacing     the simulation (replay/simulation.h: the real core's Step in a discrete-event
//              cluster) of a rollout of 20 CachedImages to 5,000 nodes under one policy
//              (maxConcurrentNodes 200, minDelayBetweenPulls 0, pulls of 100-300 ms):
//              pacing efficiency = the ideal schedule the policy allows / the simulated
//              completion                                                  target >= 0.98
//              and the simulator's speed: simulated pulls per second of wall time.
//   journal    a 10-million-entry journal, built by repeating the simulated rollout's journal
//              with renumbered sequence numbers and shifted times (as bench_journal does), with
//              a snapshot every 100,000 entries as the operator writes them; then drop-replay on
//              it, as a user runs it:
//                `state --at` a late point                                  target < 2 s
//                `verify` (on the recorded rollout itself, all of it by default: the repeats
//                are not a history the core could have made, so only their first round
//                verifies)                                                  target >= 1,000,000/s
//                and its rate against the simulator's, measured in the same run
//                `timeline` for 5,000 nodes                                  target < 10 s, < 20 MB
// Figures only: nothing here fails a build on a timing.
// Usage: bench_pacing [--nodes N] [--images N] [--entries N] [--dir DIR] [--only pacing|journal]
//                     [--verify-entries N]
//   --dir keeps the journals there and reuses them when they exist.
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "core/fold.h"
#include "core/hash.h"
#include "core/step.h"
#include "journal/journal.h"
#include "replay/simulation.h"
#include "tests/support/builders.h"
#include "tests/support/temp_dir.h"

using namespace drop;  // NOLINT(build/namespaces)
using Steady = std::chrono::steady_clock;

namespace {

double Seconds(Steady::time_point since) {
  return std::chrono::duration<double>(Steady::now() - since).count();
}

constexpr int64_t kStart = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

// Pulls that take 100-300 ms, fixed per (CachedImage, node), and succeed.
class UniformPulls : public replay::PullSource {
 public:
  replay::PodLife Life(const std::string& image, const std::string& node, int) override {
    int64_t ms = Duration(image, node);
    replay::PodLife life;
    life.reports.push_back({ms, v1::POD_SUCCEEDED, "", "", "Completed", 0});
    life.transfer_ms = ms;
    return life;
  }
  static int64_t Duration(const std::string& image, const std::string& node) {
    return 100 + static_cast<int64_t>(Fnv1a64(image + "/" + node) % 201);
  }
};

std::string NodeName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "node-%05d", i);
  return buf;
}

std::string ImageName(int m) {
  return "app-" + std::to_string(m);
}

// The operator starting on a cluster of `nodes` nodes with `images` CachedImages under one
// policy: what its journal's first entries say.
std::vector<v1::Entry> Cluster(int nodes, int images, int limit) {
  using namespace drop::testing;  // NOLINT(build/namespaces)
  std::vector<v1::Entry> in;
  auto at_start = [&](v1::Entry e) {
    e.set_time_ms(kStart);
    in.push_back(std::move(e));
  };
  at_start(Started());
  at_start(RelistBegin(v1::KIND_NODE));
  for (int i = 0; i < nodes; ++i) {
    NodeBuilder n(NodeName(i));
    n.Labels({{"kubernetes.io/hostname", NodeName(i)},
              {"pool", "cpu"},
              {"topology.kubernetes.io/zone", "zone-" + std::to_string(i % 3)}});
    for (int k = 0; k < 20; ++k)
      n.Image("registry.example.com/base/layer-" + std::to_string(k) + ":1");
    at_start(Watch(v1::LISTED, static_cast<v1::Node>(n)));
  }
  at_start(RelistEnd(v1::KIND_NODE));
  at_start(RelistBegin(v1::KIND_PULL_POLICY));
  at_start(Watch(v1::LISTED, static_cast<v1::PullPolicy>(PolicyBuilder("rollout", limit, 0))));
  at_start(RelistEnd(v1::KIND_PULL_POLICY));
  at_start(RelistBegin(v1::KIND_CACHED_IMAGE));
  for (int m = 0; m < images; ++m) {
    at_start(Watch(v1::LISTED, static_cast<v1::CachedImage>(
                                   ImageBuilder(ImageName(m), "registry.example.com/team/" +
                                                                  ImageName(m) + ":1.0")
                                       .Policy("rollout"))));
  }
  at_start(RelistEnd(v1::KIND_CACHED_IMAGE));
  at_start(RelistBegin(v1::KIND_POD));
  at_start(RelistEnd(v1::KIND_POD));
  return in;
}

// Appends entries to a journal in batches that end with an input's last decision, committing
// each with the state it folds to, so snapshots land where the operator's would.
class Writer {
 public:
  explicit Writer(const std::string& dir) {
    journal::JournalOptions o;
    o.dir = dir;
    o.sync = false;
    o.verify_on_open = false;
    o.snapshot_every_entries = 100'000;
    o.snapshot_every_ms = 0;
    auto j = journal::Journal::Open(o);
    if (!j.ok()) {
      std::fprintf(stderr, "%s\n", j.status().ToString().c_str());
      std::exit(2);
    }
    journal_ = std::move(*j);
    state_ = InitialState();
  }
  void Add(const v1::Entry& e) {
    if (!IsDecision(e) && pending_ >= 1024) Flush();
    if (!journal_->Append(e).ok()) std::exit(2);
    Apply(e, &state_);
    ++pending_;
  }
  void Flush() {
    if (pending_ == 0) return;
    Status s = journal_->Commit(state_);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      std::exit(2);
    }
    pending_ = 0;
  }
  const v1::State& state() const { return state_; }

 private:
  std::unique_ptr<journal::Journal> journal_;
  v1::State state_;
  size_t pending_ = 0;
};

struct PacingFigures {
  double efficiency, ideal_s, simulated_s, pulls_per_s, wall_s;
  uint64_t pulls, entries;
};

PacingFigures RunPacing(int nodes, int images, int limit, const std::string& record_dir) {
  replay::SimulationOptions o;
  o.inputs = Cluster(nodes, images, limit);
  o.start = InitialState();
  o.start_ms = kStart;
  o.until_ms = kStart + 24 * 3600 * 1000LL;
  int64_t last_success = kStart;
  std::unique_ptr<Writer> writer;
  if (!record_dir.empty()) writer = std::make_unique<Writer>(record_dir);
  o.record = [&](const v1::Entry& e) {
    if (e.has_outcome() && e.outcome().outcome() == v1::PULL_SUCCEEDED) {
      last_success = std::max(last_success, e.time_ms());
    }
    if (writer) writer->Add(e);
  };
  UniformPulls pulls;
  Result<replay::SimulationResult> r = replay::Simulate(o, &pulls);
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.status().ToString().c_str());
    std::exit(2);
  }
  if (writer) writer->Flush();
  // The ideal schedule the policy allows: `limit` pulls always in flight, no gaps, so the work
  // divided by the limit, and never less than the longest single pull.
  double work = 0, longest = 0;
  for (int m = 0; m < images; ++m) {
    for (int i = 0; i < nodes; ++i) {
      double d = static_cast<double>(UniformPulls::Duration(ImageName(m), NodeName(i)));
      work += d;
      longest = std::max(longest, d);
    }
  }
  PacingFigures f{};
  f.ideal_s = std::max(work / limit, longest) / 1000;
  f.simulated_s = static_cast<double>(last_success - kStart) / 1000;
  f.efficiency = f.ideal_s / f.simulated_s;
  f.pulls = r->pulls;
  f.entries = r->entries;
  f.wall_s = r->wall_seconds;
  f.pulls_per_s = static_cast<double>(r->pulls) / r->wall_seconds;
  return f;
}

// Runs a command, returns its wall time; its output goes to `out` (or /dev/null).
double Timed(const std::string& cmd, const std::string& out = "/dev/null") {
  auto start = Steady::now();
  int status = std::system((cmd + " >" + out + " 2>&1").c_str());
  double s = Seconds(start);
  if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
    std::fprintf(stderr, "failed (%d): %s\n", status, cmd.c_str());
  }
  return s;
}

std::string Slurp(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "";
  std::string s;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
    s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  int nodes = 5000, images = 20, limit = 200;
  uint64_t total = 10'000'000, verify_entries = 0;  // 0: the whole rollout
  std::string root, only;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--nodes") == 0) nodes = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--images") == 0) images = std::stoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--entries") == 0) total = std::stoull(argv[i + 1]);
    if (std::strcmp(argv[i], "--verify-entries") == 0) verify_entries = std::stoull(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) root = argv[i + 1];
    if (std::strcmp(argv[i], "--only") == 0) only = argv[i + 1];
  }
  drop::testing::TempDir scratch;
  if (root.empty()) root = scratch.path();
  std::filesystem::create_directories(root);
  const std::string rollout = root + "/rollout", big = root + "/big";
  double simulated_entries_per_s = 0;  // the baseline verify is compared with

  if (only != "journal" || !std::filesystem::exists(rollout)) {
    bool record = !std::filesystem::exists(rollout);
    std::printf(
        "pacing: %d nodes x %d CachedImages, one policy (maxConcurrentNodes %d, "
        "minDelayBetweenPulls 0), pulls of 100-300 ms\n",
        nodes, images, limit);
    PacingFigures f = RunPacing(nodes, images, limit, record ? rollout : "");
    simulated_entries_per_s = static_cast<double>(f.entries) / f.wall_s;
    std::printf(
        "  ideal schedule %.2f s, simulated completion %.2f s: efficiency %.3f "
        "(target >= 0.98)\n",
        f.ideal_s, f.simulated_s, f.efficiency);
    std::printf(
        "  simulator: %llu pulls, %llu journal entries in %.1f s of wall time: %.0f "
        "pulls/s, %.0f entries/s\n",
        static_cast<unsigned long long>(f.pulls), static_cast<unsigned long long>(f.entries),
        f.wall_s, f.pulls_per_s, simulated_entries_per_s);
  }
  if (only == "pacing") return 0;

  const std::string tool = DROP_REPLAY;
  if (!std::filesystem::exists(big)) {
    std::printf("\njournal: writing %llu entries by repeating the rollout's journal...\n",
                static_cast<unsigned long long>(total));
    auto start = Steady::now();
    journal::Store::Options ro;
    auto store = journal::Store::Open(rollout, ro);
    if (!store.ok()) return 2;
    std::vector<std::string> round;
    journal::Store::Iterator it = (*store)->Entries(1);
    int64_t first_time = 0, last_time = 0;
    for (; it.Valid(); it.Next()) {
      round.emplace_back(it.bytes());
      if (first_time == 0) first_time = it.entry().time_ms();
      last_time = it.entry().time_ms();
    }
    Writer writer(big);
    uint64_t seq = 0, shift = 0;
    int64_t time_shift = 0;
    v1::Entry e;
    while (seq < total) {
      for (const std::string& bytes : round) {
        if (seq >= total) break;
        e.ParseFromString(bytes);
        e.set_seq(++seq);
        e.set_time_ms(e.time_ms() + time_shift);
        if (e.reconcile_id() != 0) e.set_reconcile_id(e.reconcile_id() + shift);
        if (e.has_reconcile()) {
          e.mutable_reconcile()->set_trigger_seq(e.reconcile().trigger_seq() + shift);
        }
        if (e.has_action_result()) {
          e.mutable_action_result()->set_action_seq(e.action_result().action_seq() + shift);
        }
        writer.Add(e);
      }
      shift += round.size();
      time_shift += last_time - first_time + 1000;
    }
    writer.Flush();
    std::printf("  %.1f s\n", Seconds(start));
  }
  std::printf("\ndrop-replay on %s:\n", big.c_str());
  Timed(tool + " -j " + big + " info", root + "/info.txt");
  std::string info = Slurp(root + "/info.txt");
  std::printf("%s\n", info.substr(0, info.find("\n\n")).c_str());

  uint64_t late = total - total / 20;
  double state_s =
      Timed(tool + " -j " + big + " state --at " + std::to_string(late), root + "/state.txt");
  std::printf("  state --at %llu (a late point): %.2f s (target < 2 s)\n",
              static_cast<unsigned long long>(late), state_s);
  double object_s = Timed(
      tool + " -j " + big + " state --at " + std::to_string(late) + " cachedimage/" + ImageName(0),
      root + "/state-object.txt");
  std::printf("  state --at %llu cachedimage/%s: %.2f s\n", static_cast<unsigned long long>(late),
              ImageName(0).c_str(), object_s);

  // The recorded rollout itself (or its first --verify-entries), a thread per core.
  std::string to = verify_entries > 0 ? " --to " + std::to_string(verify_entries) : "";
  double verify_s = Timed(tool + " -j " + rollout + " verify" + to, root + "/verify.txt");
  std::string verify = Slurp(root + "/verify.txt");
  uint64_t checked = 0;
  if (size_t at = verify.find("Entries 1.."); at != std::string::npos) {
    checked = std::stoull(verify.substr(at + 11));
  }
  std::printf(
      "  verify of entries 1..%llu of the rollout: %.2f s (%.0f entries/s end to end; "
      "target >= 1,000,000/s)\n    %s",
      static_cast<unsigned long long>(checked), verify_s, static_cast<double>(checked) / verify_s,
      verify.substr(verify.rfind('\n', verify.size() - 2) + 1).c_str());
  // The simulator runs the same core (one thread, writing the journal as it goes): the ratio
  // says how verify moved where the machine's speed alone would move both.
  if (simulated_entries_per_s > 0) {
    std::printf("    %.2fx the simulator's entries/s in this run\n",
                static_cast<double>(checked) / verify_s / simulated_entries_per_s);
  }

  std::string html = root + "/timeline.html";
  double timeline_s = Timed(tool + " -j " + big + " timeline -o " + html, root + "/timeline.txt");
  std::error_code ec;
  double mb = static_cast<double>(std::filesystem::file_size(html, ec)) / 1e6;
  std::printf("  timeline: %.2f s, %.1f MB (targets < 10 s, < 20 MB): %s", timeline_s, mb,
              Slurp(root + "/timeline.txt").c_str());
  // The page at that size in headless Chromium, when it is installed: load, decode, first draw.
  if (std::system("command -v chromium >/dev/null 2>&1") == 0) {
    std::string profile = root + "/chromium-profile";
    std::filesystem::remove_all(profile, ec);
    double render_s = Timed(
        "timeout 300 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
        "--disable-background-networking --disable-component-update --disable-sync "
        "--user-data-dir=" +
            profile + " --window-size=1400,900 --dump-dom file://" + html +
            " 2>/dev/null | grep -o 'data-rendered=\"[0-9]* lanes\"[^>]*>'",
        root + "/render.txt");
    std::printf("  the page in headless Chromium: %.1f s to load and draw, body %s", render_s,
                Slurp(root + "/render.txt").c_str());
  }
  return 0;
}
