#include "replay/simulate.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "core/duration.h"
#include "core/fold.h"
#include "core/image_ref.h"
#include "core/state.h"
#include "core/step.h"
#include "core/validation.h"
#include "core/words.h"
#include "journal/journal.h"
#include "replay/history.h"
#include "replay/simulation.h"
#include "replay/table.h"

namespace drop::replay {
namespace {

// Images under the built-in default policy are simulated under a PullPolicy of this name when
// --set changes the default (the core cannot be handed another built-in).
constexpr const char* kDefaultStandIn = "drop-replay-default";

Status Set(v1::PullPolicySpec* spec, const std::string& text) {
  size_t eq = text.find('=');
  // Spaces around the field and the value are no part of them: "maxConcurrentNodes = 5".
  auto trimmed = [](std::string_view s) {
    const size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    return b == std::string_view::npos ? std::string() : std::string(s.substr(b, e - b + 1));
  };
  std::string field = trimmed(std::string_view(text).substr(0, eq)),
              value = eq == std::string::npos ? "" : trimmed(std::string_view(text).substr(eq + 1));
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("--set " + text + ": " + why);
  };
  if (eq == std::string::npos || value.empty()) return bad("write FIELD=VALUE");
  auto duration = [&](auto setter) -> Status {
    bool truncated = false;
    Result<int64_t> d = ParseDuration(value, &truncated);
    if (!d.ok()) return bad(d.status().message());
    if (truncated) {  // drop would run it as the whole milliseconds: say so, not simulate that
      return bad("drop counts durations in whole milliseconds, so " + value + " would run as " +
                 FormatDuration(*d) + "; write " + FormatDuration(*d) + " or " +
                 FormatDuration(*d + 1));
    }
    setter(*d);
    return Status::Ok();
  };
  auto integer = [&](auto setter) -> Status {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(value.c_str(), &end, 10);
    if (*end != '\0') return bad("not a whole number");
    if (errno == ERANGE || v < std::numeric_limits<int32_t>::min() ||
        v > std::numeric_limits<int32_t>::max()) {
      return bad("out of range (at most " + std::to_string(std::numeric_limits<int32_t>::max()) +
                 ")");
    }
    setter(static_cast<int32_t>(v));
    return Status::Ok();
  };
  v1::Backoff* b = spec->mutable_backoff();
  if (field == "maxConcurrentNodes") {
    return integer([&](int32_t v) { spec->set_max_concurrent_nodes(v); });
  }
  if (field == "minDelayBetweenPulls") {
    return duration([&](int64_t v) { spec->set_min_delay_between_pulls_ms(v); });
  }
  if (field == "pullTimeout") return duration([&](int64_t v) { spec->set_pull_timeout_ms(v); });
  if (field == "podTTLAfterFinished") {
    return duration([&](int64_t v) { spec->set_pod_ttl_after_finished_ms(v); });
  }
  if (field == "imagePullPolicy") {
    spec->set_image_pull_policy(value);
    return Status::Ok();
  }
  if (field == "backoff.initialDelay") {
    return duration([&](int64_t v) { b->set_initial_delay_ms(v); });
  }
  if (field == "backoff.maxDelay") return duration([&](int64_t v) { b->set_max_delay_ms(v); });
  if (field == "backoff.maxConsecutiveFailures") {
    return integer([&](int32_t v) { b->set_max_consecutive_failures(v); });
  }
  if (field == "backoff.factor") {
    char* end = nullptr;
    double v = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !std::isfinite(v)) return bad("not a number");
    b->set_factor(v);
    return Status::Ok();
  }
  return bad(
      "unknown field; use maxConcurrentNodes, minDelayBetweenPulls, pullTimeout, "
      "podTTLAfterFinished, imagePullPolicy, backoff.initialDelay, backoff.maxDelay, "
      "backoff.factor or backoff.maxConsecutiveFailures");
}

// The recorded lives of drop pods, by (CachedImage, node), attempt by attempt.
class RecordedPulls : public PullSource {
 public:
  RecordedPulls(const History& h, int full_speed) {
    std::vector<Done> done;
    for (const PullRecord& p : h.pulls) {
      if (p.start_seq == 0) continue;  // in flight before the journal: no whole life
      PodLife life = LifeOf(p);
      const std::string key = h.images[p.image] + '\0' + h.nodes[p.node];
      std::vector<PodLife>& lives = lives_[key];
      lives.push_back(life);
      if (p.outcome == v1::PULL_SUCCEEDED && !life.reports.empty()) {
        done.push_back({&p, &lives, lives.size() - 1});
      }
    }
    if (full_speed > 0) Derate(done, full_speed);
    // By image, after derating, for nodes with no recorded pull of their own.
    for (const auto& [key, lives] : lives_) {
      auto& of_image = by_image_[key.substr(0, key.find('\0'))];
      of_image.insert(of_image.end(), lives.begin(), lives.end());
    }
    for (auto& [image, lives] : by_image_) {
      std::stable_sort(lives.begin(), lives.end(),
                       [](const PodLife& a, const PodLife& b) { return End(a) < End(b); });
    }
  }

  PodLife Life(const std::string& image, const std::string& node, int attempt) override {
    auto it = lives_.find(image + '\0' + node);
    if (it != lives_.end()) {
      return it->second[std::min<size_t>(attempt, it->second.size() - 1)];
    }
    ++unrecorded_;
    auto im = by_image_.find(image);
    if (im != by_image_.end() && !im->second.empty()) return im->second[im->second.size() / 2];
    PodLife life;  // nothing recorded for the image: a plain 10 s success
    life.reports.push_back({10'000, v1::POD_SUCCEEDED, "", "", "Completed", 0});
    life.transfer_ms = 10'000;
    return life;
  }

  int unrecorded() const { return unrecorded_; }

  // The bandwidth model that best explains the recorded durations: at most k pulls move at full
  // speed and the rest share; 0 when no k explains them better than no limit at all.
  static int Infer(const History& h) {
    struct Span {
      int64_t start, end;
      int image;
    };
    std::vector<Span> spans;
    for (const PullRecord& p : h.pulls) {
      if (p.outcome == v1::PULL_SUCCEEDED && p.start_seq != 0 && p.end_ms > p.start_ms) {
        spans.push_back({p.start_ms, p.end_ms, p.image});
      }
    }
    if (spans.size() < 20) return 0;
    std::vector<double> overlap = Overlaps(spans);
    int most = 1;
    for (double m : overlap)
      most = std::max(most, static_cast<int>(std::ceil(m)));
    auto spread = [&](int k) {
      std::map<int, std::vector<double>> logs;
      for (size_t i = 0; i < spans.size(); ++i) {
        double d = static_cast<double>(spans[i].end - spans[i].start);
        double f = k > 0 ? std::min(1.0, k / overlap[i]) : 1.0;
        logs[spans[i].image].push_back(std::log(d * f));
      }
      double total = 0;
      for (const auto& [image, xs] : logs) {
        double mean = 0;
        for (double x : xs)
          mean += x;
        mean /= static_cast<double>(xs.size());
        for (double x : xs)
          total += (x - mean) * (x - mean);
      }
      return total;
    };
    double none = spread(0);
    int best = 0;
    double best_spread = none;
    for (int k = 1; k < most; ++k) {
      double s = spread(k);
      if (s < best_spread) {
        best = k;
        best_spread = s;
      }
    }
    return best_spread < 0.75 * none ? best : 0;
  }

 private:
  static int64_t End(const PodLife& l) {
    return l.reports.empty() ? 0 : l.reports.back().offset_ms;
  }

  // Each span's mean number of spans in flight (itself included), from the integral of the
  // in-flight count.
  template <typename Span>
  static std::vector<double> Overlaps(const std::vector<Span>& spans) {
    std::vector<std::pair<int64_t, int>> edges;
    for (const Span& s : spans) {
      edges.push_back({s.start, +1});
      edges.push_back({s.end, -1});
    }
    std::sort(edges.begin(), edges.end());
    std::vector<int64_t> times;
    std::vector<double> integral;  // of the count, up to times[i]
    int n = 0;
    double acc = 0;
    int64_t last = edges.empty() ? 0 : edges[0].first;
    for (const auto& [t, d] : edges) {
      acc += static_cast<double>(n) * static_cast<double>(t - last);
      last = t;
      n += d;
      times.push_back(t);
      integral.push_back(acc);
    }
    auto at = [&](int64_t t) {
      size_t i = std::upper_bound(times.begin(), times.end(), t) - times.begin();
      return i == 0 ? 0.0 : integral[i - 1];
    };
    std::vector<double> out;
    for (const Span& s : spans) {
      double span = static_cast<double>(s.end - s.start);
      out.push_back(std::max(1.0, (at(s.end) - at(s.start)) / span));
    }
    return out;
  }

  // A successful recorded pull and its life among its (CachedImage, node)'s.
  struct Done {
    const PullRecord* pull;
    std::vector<PodLife>* lives;  // a map's value: stays where it is
    size_t life;
  };

  // Each successful pull's transfer at full speed: its recorded one, shortened by how many pulls
  // it shared the bandwidth with beyond `k`.
  void Derate(const std::vector<Done>& done, int k) {
    struct Span {
      int64_t start, end;
      int image;
    };
    std::vector<Span> spans;
    for (const Done& d : done)
      spans.push_back({d.pull->start_ms, d.pull->end_ms, d.pull->image});
    std::vector<double> overlap = Overlaps(spans);
    for (size_t i = 0; i < done.size(); ++i) {
      PodLife& l = (*done[i].lives)[done[i].life];
      l.transfer_ms =
          static_cast<int64_t>(static_cast<double>(Transfer(l)) * std::min(1.0, k / overlap[i]));
    }
  }

  static PodLife LifeOf(const PullRecord& p) {
    PodLife life;
    v1::PodPhase phase = v1::POD_PENDING;
    std::string waiting = "ContainerCreating";
    for (const PodReport& r : p.reports) {
      if (r.deleted || r.offset_ms < 0) continue;
      const v1::Pod& pod = r.pod;
      if (pod.phase() == phase && pod.waiting_reason() == waiting) continue;  // nothing new
      phase = pod.phase();
      waiting = pod.waiting_reason();
      life.reports.push_back({r.offset_ms, pod.phase(), pod.waiting_reason(), pod.waiting_message(),
                              pod.terminated_reason(), pod.exit_code()});
      if (phase == v1::POD_SUCCEEDED || phase == v1::POD_FAILED) break;
    }
    if (!life.reports.empty() && life.reports.back().phase == v1::POD_SUCCEEDED) {
      life.transfer_ms = Transfer(life);
    }
    return life;
  }

  // The recorded time of the pull's transfer: from the report before the last (the simulation
  // starts the transfer there) to the last.
  static int64_t Transfer(const PodLife& l) {
    size_t n = l.reports.size();
    return l.reports[n - 1].offset_ms - (n > 1 ? l.reports[n - 2].offset_ms : 0);
  }

  std::map<std::string, std::vector<PodLife>> lives_;
  std::map<std::string, std::vector<PodLife>> by_image_;
  int unrecorded_ = 0;
};

// Writes the simulated run to a new journal, batch by batch, with snapshots.
class Recorder {
 public:
  static Result<std::unique_ptr<Recorder>> Open(const std::string& dir, const v1::State& start) {
    if (start.last_seq() > 0) {
      return Status::InvalidArgument("--record: the journal starts after entry " +
                                     std::to_string(start.last_seq()) +
                                     " (retention); a simulated journal can be recorded only "
                                     "from a journal that starts at entry 1");
    }
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
      return Status::InvalidArgument("--record " + dir +
                                     ": a file, not a directory; give a new directory for the "
                                     "simulated journal");
    }
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
      return Status::InvalidArgument("--record " + dir +
                                     ": the directory exists and is not "
                                     "empty; give a new directory for the simulated journal");
    }
    journal::JournalOptions o;
    o.dir = dir;
    o.sync = false;
    o.verify_on_open = false;
    o.snapshot_every_ms = 0;
    Result<std::unique_ptr<journal::Journal>> j = journal::Journal::Open(o);
    if (!j.ok()) return j.status();
    std::unique_ptr<Recorder> r(new Recorder());
    r->journal_ = std::move(*j);
    r->state_ = start;
    return r;
  }

  void Add(const v1::Entry& e) {
    if (!status_.ok()) return;
    if (!IsDecision(e) && pending_ >= 512) Flush();
    status_ = journal_->Append(e);
    Apply(e, &state_);
    ++pending_;
  }

  Status Finish() {
    Flush();
    return status_;
  }

 private:
  Recorder() = default;
  void Flush() {
    if (status_.ok() && pending_ > 0) status_ = journal_->Commit(state_);
    pending_ = 0;
  }
  std::unique_ptr<journal::Journal> journal_;
  v1::State state_;
  size_t pending_ = 0;
  Status status_;
};

// A recorded node lists the image of a CachedImage from the moment its real pull ended. Replayed
// as recorded, that list would tell a simulated rollout, which pulls later or not at all, that the
// node holds the image already, and the core would skip it. So a node keeps a CachedImage's image
// in its list only when it held it when first seen: the simulated pulls are what put it there.
void LeaveOutRecordedPulls(const v1::State& start, std::vector<v1::Entry>* inputs) {
  std::set<uint64_t> pulled;  // every CachedImage's image, as Node.image_hashes holds it
  for (const v1::ImageRecord& i : start.images())
    pulled.insert(ImageMatchHash(i.object().spec().image()));
  for (const v1::Entry& e : *inputs) {
    if (e.has_watch() && e.watch().has_cached_image()) {
      pulled.insert(ImageMatchHash(e.watch().cached_image().spec().image()));
    }
  }
  std::map<std::string, std::set<uint64_t>> held;  // by node: what it held when first seen
  for (const v1::NodeRecord& n : start.nodes()) {
    held.emplace(n.node().name(), std::set<uint64_t>(n.node().image_hashes().begin(),
                                                     n.node().image_hashes().end()));
  }
  for (v1::Entry& e : *inputs) {
    if (!e.has_watch() || !e.watch().has_node()) continue;
    v1::Node* node = e.mutable_watch()->mutable_node();
    auto* hashes = node->mutable_image_hashes();
    auto [first, unseen] = held.try_emplace(node->name(), hashes->begin(), hashes->end());
    if (unseen) continue;
    hashes->erase(std::remove_if(hashes->begin(), hashes->end(),
                                 [&, &had = first->second](uint64_t h) {
                                   return pulled.count(h) > 0 && had.count(h) == 0;
                                 }),
                  hashes->end());
  }
}

// A policy's name as the report shows it: the stand-in is the built-in policy.
std::string ReportedPolicyName(const std::string& name) {
  return PolicyName(name == kDefaultStandIn ? "" : name);
}

}  // namespace

Result<SimulateReport> RunSimulate(const Reader& r, const SimulateOptions& o) {
  if (r.empty()) return r.NoEntries();
  v1::PullPolicySpec probe;
  std::map<std::string, std::string> given;  // field -> the --set that named it
  for (const std::string& s : o.sets) {
    if (Status st = Set(&probe, s); !st.ok()) return st;
    // The last would win without a word.
    auto [first, fresh] = given.emplace(s.substr(0, s.find('=')), s);
    if (!fresh) {
      return Status::InvalidArgument("--set " + first->second + " and --set " + s +
                                     " set the same field; give it once");
    }
  }
  if (!o.policies.empty() && o.sets.empty()) {
    return Status::InvalidArgument(
        "--policy names the PullPolicies --set changes, and no --set is given; add --set "
        "FIELD=VALUE (maxConcurrentNodes=20), or leave --policy out to simulate the recorded "
        "policies");
  }
  Result<v1::State> start = r.StateAt(r.origin());
  if (!start.ok()) return start.status();

  // Which policies change: the named ones, or all (the built-in default included).
  // The built-in policy is "default", or kDefaultPolicyName as the table shows it.
  std::set<std::string> chosen;
  for (const std::string& name : o.policies)
    chosen.insert(name == kDefaultPolicyName ? "default" : name);
  bool all = chosen.empty();
  bool change_default = !o.sets.empty() && (all || chosen.count("default") > 0);
  auto changes = [&](const std::string& name) {
    return !o.sets.empty() && (all || chosen.count(name) > 0);
  };
  auto apply = [&](v1::PullPolicySpec* spec) {
    for (const std::string& s : o.sets)
      (void)Set(spec, s);
  };

  // One pass: the recorded pulls, and the inputs from outside drop.
  std::set<std::string> start_pods;
  for (const v1::PodRecord& p : AllPods(*start))
    start_pods.insert(p.pod().uid());
  std::map<std::string, std::string> last_image;  // name -> object without status, serialized
  std::vector<v1::Entry> inputs;
  std::set<std::string> policies_seen, used_default;
  const uint64_t origin = r.origin().seq;
  HistoryOptions ho;
  ho.pod_reports = true;
  ho.each = [&](const v1::Entry& e) {
    switch (e.kind_case()) {
      case v1::Entry::kWatch: {
        const v1::WatchEvent& w = e.watch();
        if (w.has_pod()) {
          if (start_pods.count(w.pod().uid()) > 0) inputs.push_back(e);
          return;
        }
        if (w.has_cached_image()) {
          v1::CachedImage c = w.cached_image();
          c.clear_status();
          c.clear_resource_version();
          std::string bytes = c.SerializeAsString();
          std::string& last = last_image[c.name()];
          if (w.type() == v1::MODIFIED && bytes == last) return;  // a status echo
          last = w.type() == v1::DELETED ? "" : bytes;
          if (c.spec().pull_policy_ref().empty()) used_default.insert(c.name());
        }
        if (w.has_pull_policy()) policies_seen.insert(w.pull_policy().name());
        inputs.push_back(e);
        return;
      }
      case v1::Entry::kActionResult:
        if (e.action_result().action_seq() <= origin) inputs.push_back(e);
        return;
      case v1::Entry::kRelistBegin:
      case v1::Entry::kRelistEnd:
      case v1::Entry::kStarted:
      case v1::Entry::kDiscovery:
        inputs.push_back(e);
        return;
      default:
        return;
    }
  };
  Result<History> history = History::Scan(r, r.origin(), r.last(), ho);
  if (!history.ok()) return history.status();
  for (const v1::ImageRecord& i : start->images()) {
    if (i.object().spec().pull_policy_ref().empty()) used_default.insert(i.object().name());
  }
  for (const v1::PolicyRecord& p : start->policies())
    policies_seen.insert(p.object().name());
  for (const std::string& name : chosen) {
    // A --set for a policy nothing in the journal uses would change nothing, silently.
    bool known = name == "default" ? !used_default.empty() : policies_seen.count(name) > 0;
    if (!known) {
      std::string names = used_default.empty() ? "" : "default";
      for (const std::string& p : policies_seen)
        names += (names.empty() ? "" : ", ") + p;
      return Status::NotFound(
          "--policy " + name +
          (name == "default" ? ": no CachedImage in the journal uses the built-in default policy"
                             : ": no PullPolicy of that name in the journal") +
          "; its policies: " + (names.empty() ? "none" : names));
    }
  }

  SimulateReport report;
  // The policy changes, in words, checked by the core's own validation.
  std::map<std::string, std::pair<v1::PullPolicySpec, v1::PullPolicySpec>> changed;
  auto note = [&](const std::string& name, const v1::PullPolicySpec& before) -> Status {
    v1::PullPolicySpec after = before;
    apply(&after);
    std::string problem = ValidatePullPolicy(name == kDefaultStandIn ? "" : name, after);
    if (!problem.empty()) return Status::InvalidArgument("--set: " + problem);
    changed[ReportedPolicyName(name)] = {before, after};
    return Status::Ok();
  };

  // Rewrite the policies: in the start state and in the inputs.
  const bool stand_in = change_default && !used_default.empty();
  for (v1::PolicyRecord& p : *start->mutable_policies()) {
    if (!changes(p.object().name())) continue;
    if (Status s = note(p.object().name(), p.object().spec()); !s.ok()) return s;
    apply(p.mutable_object()->mutable_spec());
  }
  v1::PullPolicy default_object;
  default_object.set_name(kDefaultStandIn);
  default_object.set_uid("drop-replay-default");
  default_object.set_generation(1);
  *default_object.mutable_spec() = DefaultPolicySpec();
  if (stand_in) {
    if (Status s = note(kDefaultStandIn, DefaultPolicySpec()); !s.ok()) return s;
    apply(default_object.mutable_spec());
    v1::PolicyRecord* p = Upsert(start->mutable_policies(), kDefaultStandIn);
    *p->mutable_object() = default_object;
    p->set_last_creation_ms(start->default_policy_last_creation_ms());
    p->set_relist_mark(start->last_seq());
    for (v1::ImageRecord& i : *start->mutable_images()) {
      auto* spec = i.mutable_object()->mutable_spec();
      if (spec->pull_policy_ref().empty()) spec->set_pull_policy_ref(kDefaultStandIn);
    }
    for (v1::PodGroup& group : *start->mutable_pod_groups()) {
      for (v1::PodRecord& pod : *group.mutable_pods()) {
        if (pod.policy().empty()) pod.set_policy(kDefaultStandIn);
      }
    }
    for (v1::Requeue& q : *start->mutable_requeues()) {
      if (q.key().kind() == v1::KIND_PULL_POLICY && q.key().name().empty()) {
        q.mutable_key()->set_name(kDefaultStandIn);
      }
    }
    std::sort(start->mutable_requeues()->begin(), start->mutable_requeues()->end(),
              [](const v1::Requeue& a, const v1::Requeue& b) { return a.key() < b.key(); });
  }
  LeaveOutRecordedPulls(*start, &inputs);
  std::vector<v1::Entry> rewritten;
  rewritten.reserve(inputs.size() + 4);
  bool announced = false;
  for (v1::Entry& e : inputs) {
    if (e.has_watch() && e.watch().has_pull_policy()) {
      v1::PullPolicy* p = e.mutable_watch()->mutable_pull_policy();
      if (changes(p->name())) {
        if (changed.count(p->name()) == 0) {
          if (Status s = note(p->name(), p->spec()); !s.ok()) return s;
        }
        apply(p->mutable_spec());
      }
    }
    if (stand_in && e.has_watch() && e.watch().has_cached_image()) {
      auto* spec = e.mutable_watch()->mutable_cached_image()->mutable_spec();
      if (spec->pull_policy_ref().empty()) spec->set_pull_policy_ref(kDefaultStandIn);
    }
    bool relist_policies = e.has_relist_begin() && e.relist_begin().kind() == v1::KIND_PULL_POLICY;
    if (stand_in && !announced && !relist_policies && !e.has_started() &&
        start->relisting_size() == 0) {
      // The stand-in exists from the start, as the built-in one does.
      v1::Entry add;
      add.set_time_ms(e.time_ms());
      add.mutable_watch()->set_type(v1::ADDED);
      *add.mutable_watch()->mutable_pull_policy() = default_object;
      rewritten.push_back(std::move(add));
      announced = true;
    }
    rewritten.push_back(std::move(e));
    if (stand_in && relist_policies) {
      v1::Entry listed;
      listed.set_time_ms(rewritten.back().time_ms());
      listed.mutable_watch()->set_type(v1::LISTED);
      *listed.mutable_watch()->mutable_pull_policy() = default_object;
      rewritten.push_back(std::move(listed));
      announced = true;
    }
  }

  report.full_speed_pulls = o.full_speed_pulls;
  if (o.full_speed_pulls < 0) {
    report.full_speed_pulls = RecordedPulls::Infer(*history);
    report.inferred_bandwidth = true;
  }
  RecordedPulls pulls(*history, report.full_speed_pulls);

  SimulationOptions so;
  so.inputs = std::move(rewritten);
  so.start = *start;
  so.start_ms = r.origin().time_ms;
  int64_t span = r.last_time() - r.first_time();
  so.until_ms = r.last_time() + std::max<int64_t>(span * 10, kHour);
  so.full_speed_pulls = report.full_speed_pulls;
  std::unique_ptr<Recorder> recorder;
  if (!o.record_dir.empty()) {
    Result<std::unique_ptr<Recorder>> rec = Recorder::Open(o.record_dir, *start);
    if (!rec.ok()) return rec.status();
    recorder = std::move(*rec);
    so.record = [&](const v1::Entry& e) { recorder->Add(e); };
  }
  Result<SimulationResult> sim = Simulate(so, &pulls);
  if (!sim.ok()) return sim.status();
  if (recorder) {
    if (Status s = recorder->Finish(); !s.ok()) return s;
  }

  for (int id = 0; id < history->images.size(); ++id) {
    const ImageLife& life = history->lives[id];
    if (life.image.empty()) continue;  // seen only in passing (another policy's pass)
    Projection p;
    p.image = history->images[id];
    p.policy = ReportedPolicyName(life.policy);
    p.since_ms = life.since_ms;
    // A completion is the last time it became Ready, if it still was at the end; an image Ready
    // when the journal begins whose status says so at the end was Ready throughout.
    const bool recorded_done = life.phase == "Ready";
    p.recorded_ms = recorded_done && life.ready_ms >= life.since_ms ? life.ready_ms : 0;
    p.recorded_ready_throughout =
        recorded_done && life.ready_ms > 0 && life.ready_ms < life.since_ms;
    auto phase = sim->phase_at_end.find(p.image);
    const bool simulated_done = phase != sim->phase_at_end.end() && phase->second == "Ready";
    auto it = sim->ready_ms.find(p.image);
    p.simulated_ms =
        simulated_done && it != sim->ready_ms.end() && it->second >= life.since_ms ? it->second : 0;
    // The simulation marks an image Ready at its start with 0 (SimulationResult::ready_ms).
    p.simulated_ready_throughout = simulated_done && it != sim->ready_ms.end() && it->second == 0;
    p.recorded_first_ms = life.first_ready_ms >= life.since_ms ? life.first_ready_ms : 0;
    auto first = sim->first_ready_ms.find(p.image);
    p.simulated_first_ms =
        first != sim->first_ready_ms.end() && first->second >= life.since_ms ? first->second : 0;
    report.images.push_back(p);
  }
  std::sort(report.images.begin(), report.images.end(),
            [](const Projection& a, const Projection& b) { return a.image < b.image; });
  for (const auto& [name, specs] : changed) {
    const auto& [before, after] = specs;
    std::string c;
    auto field = [&](const char* n, const std::string& a, const std::string& b) {
      if (a != b) c += std::string(c.empty() ? "" : ", ") + n + " " + a + " -> " + b;
    };
    field("maxConcurrentNodes", std::to_string(before.max_concurrent_nodes()),
          std::to_string(after.max_concurrent_nodes()));
    field("minDelayBetweenPulls", FormatDuration(before.min_delay_between_pulls_ms()),
          FormatDuration(after.min_delay_between_pulls_ms()));
    field("pullTimeout", FormatDuration(before.pull_timeout_ms()),
          FormatDuration(after.pull_timeout_ms()));
    field("podTTLAfterFinished", FormatDuration(before.pod_ttl_after_finished_ms()),
          FormatDuration(after.pod_ttl_after_finished_ms()));
    field("imagePullPolicy", before.image_pull_policy(), after.image_pull_policy());
    field("backoff.initialDelay", FormatDuration(before.backoff().initial_delay_ms()),
          FormatDuration(after.backoff().initial_delay_ms()));
    field("backoff.maxDelay", FormatDuration(before.backoff().max_delay_ms()),
          FormatDuration(after.backoff().max_delay_ms()));
    auto number = [](double v) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.10g", v);
      return std::string(buf);
    };
    field("backoff.factor", number(before.backoff().factor()), number(after.backoff().factor()));
    field("backoff.maxConsecutiveFailures",
          std::to_string(before.backoff().max_consecutive_failures()),
          std::to_string(after.backoff().max_consecutive_failures()));
    report.changes += (report.changes.empty() ? "" : "; ") + std::string("PullPolicy ") + name +
                      ": " + (c.empty() ? "unchanged" : c);
  }
  report.pulls = sim->pulls;
  report.entries = sim->entries;
  report.peak_active = sim->peak_active;
  report.wall_seconds = sim->wall_seconds;
  report.unrecorded = pulls.unrecorded();
  report.recorded_end_ms = r.last_time();
  report.end_ms = sim->end_ms;
  return report;
}

void PrintSimulate(const SimulateReport& rep, Format format, std::ostream& out) {
  auto took = [](int64_t since, int64_t at, bool throughout = false) {
    if (throughout) return std::string("Ready at start");
    return at > 0 ? FormatDuration(at - since) : std::string("never");
  };
  if (format != Format::kTable) {
    boost::json::object doc;
    doc["changes"] = rep.changes.empty() ? "none (the recorded policies)" : rep.changes;
    doc["fullSpeedPulls"] = rep.full_speed_pulls;
    doc["bandwidthInferred"] = rep.inferred_bandwidth;
    boost::json::array images;
    for (const Projection& p : rep.images) {
      boost::json::object x;
      x["cachedImage"] = p.image;
      x["policy"] = p.policy;
      x["since"] = FormatTimeMillis(p.since_ms);
      x["recorded"] = took(p.since_ms, p.recorded_ms, p.recorded_ready_throughout);
      x["simulated"] = took(p.since_ms, p.simulated_ms, p.simulated_ready_throughout);
      if (p.recorded_ms > 0) x["recordedReady"] = FormatTimeMillis(p.recorded_ms);
      if (p.simulated_ms > 0) x["simulatedReady"] = FormatTimeMillis(p.simulated_ms);
      x["recordedFirst"] = took(p.since_ms, p.recorded_first_ms, p.recorded_ready_throughout);
      x["simulatedFirst"] = took(p.since_ms, p.simulated_first_ms, p.simulated_ready_throughout);
      images.push_back(std::move(x));
    }
    doc["cachedImages"] = std::move(images);
    doc["simulatedUntil"] = FormatTimeMillis(rep.end_ms);
    doc["pulls"] = rep.pulls;
    doc["peakActive"] = rep.peak_active;
    doc["wallMilliseconds"] = std::llround(rep.wall_seconds * 1000);
    Print(doc, format, out);
    return;
  }
  out << "Simulated the recorded rollout through drop's core with "
      << (rep.changes.empty() ? "the recorded policies" : rep.changes) << ".\n";
  out << "Pulls take their recorded durations and outcomes on each node; bandwidth: ";
  if (rep.full_speed_pulls > 0) {
    out << "at most " << rep.full_speed_pulls << (rep.full_speed_pulls == 1 ? " pull" : " pulls")
        << " at full speed, more share it"
        << (rep.inferred_bandwidth ? " (inferred from the recorded durations)" : "") << ".\n\n";
  } else {
    out << "no limit" << (rep.inferred_bandwidth ? " (the recorded durations show none)" : "")
        << ".\n\n";
  }
  // From SINCE to `recorded` and to `simulated`, and the one against the other.
  auto change = [](int64_t since, int64_t recorded, int64_t simulated) {
    if (recorded <= since || simulated <= 0) return std::string("-");
    double r = static_cast<double>(simulated - since) / static_cast<double>(recorded - since);
    const long percent = std::lround((r - 1) * 100);  // rounded first: no "-0%"
    return (percent > 0 ? "+" : "") + std::to_string(percent) + "%";
  };
  // Where an image went back to Pulling, its first Ready says what the last one may hide.
  const bool went_back = std::any_of(rep.images.begin(), rep.images.end(), [](const Projection& p) {
    return p.recorded_first_ms != p.recorded_ms || p.simulated_first_ms != p.simulated_ms;
  });
  std::vector<std::string> header = {"CACHEDIMAGE", "POLICY",    "SINCE",
                                     "RECORDED",    "SIMULATED", "CHANGE"};
  if (went_back) header.push_back("FIRST READY (RECORDED -> SIMULATED)");
  Table t(header);
  for (const Projection& p : rep.images) {
    std::vector<std::string> row = {p.image,
                                    p.policy,
                                    FormatTimeMillis(p.since_ms),
                                    took(p.since_ms, p.recorded_ms, p.recorded_ready_throughout),
                                    took(p.since_ms, p.simulated_ms, p.simulated_ready_throughout),
                                    change(p.since_ms, p.recorded_ms, p.simulated_ms)};
    if (went_back) {
      std::string first = "-";
      if (p.recorded_first_ms != p.recorded_ms || p.simulated_first_ms != p.simulated_ms) {
        first =
            took(p.since_ms, p.recorded_first_ms) + " -> " + took(p.since_ms, p.simulated_first_ms);
        std::string c = change(p.since_ms, p.recorded_first_ms, p.simulated_first_ms);
        if (c != "-") first += " (" + c + ")";
      }
      row.push_back(first);
    }
    t.Add(row);
  }
  t.Print(out);
  out << "\nRECORDED and SIMULATED: from SINCE to when the CachedImage last became Ready (a node "
         "that joins later, or a new image, sends it back to Pulling).\n";
  if (went_back) {
    out << "FIRST READY: to when it first became Ready, where it went back to Pulling after "
           "(\"-\": it did not).\n";
  }
  if (std::any_of(rep.images.begin(), rep.images.end(), [](const Projection& p) {
        return p.recorded_ready_throughout || p.simulated_ready_throughout;
      })) {
    out << "Ready at start: Ready where the journal begins (retention dropped what came before) "
           "and never sent back to Pulling.\n";
  }
  if (std::any_of(rep.images.begin(), rep.images.end(), [](const Projection& p) {
        return p.simulated_ms == 0 && !p.simulated_ready_throughout;
      })) {
    // Without it, "never" and the count of pulls (an image that keeps failing keeps being
    // retried) read as if they covered the recorded span only.
    out << "\nSimulated \"never\": not Ready when the simulation stopped at "
        << FormatTimeMillis(rep.end_ms) << ", "
        << FormatDuration(std::max<int64_t>(0, rep.end_ms - rep.recorded_end_ms))
        << " past the recording's end (it stops once every image is Ready, when nothing is left "
           "to happen, or ten times the recorded span past the end, an hour at least).\n";
  }
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.2f s", rep.wall_seconds);
  out << '\n'
      << Count(static_cast<int64_t>(rep.pulls), "pull") << " simulated (at most "
      << Count(rep.peak_active, "drop pod") << " in flight at once, all policies together), "
      << rep.entries << " journal entries, in " << wall << " of wall time";
  if (rep.unrecorded > 0) {
    out << "; " << rep.unrecorded << " pulls had no recorded counterpart on their node and took "
        << "a typical recorded life of their image";
  }
  out << ".\n";
}

}  // namespace drop::replay
