#include "replay/simulation.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>

#include "core/drop_pod.h"
#include "core/executor.h"
#include "core/fold.h"
#include "core/index.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "core/step.h"
#include "replay/agenda.h"
#include "replay/history.h"

namespace drop::replay {
namespace {

constexpr int64_t kNever = Agenda::kNever;  // the agenda's "nothing due" is compared with it

// A drop pod as the simulated API server and kubelet hold it.
struct SimPod {
  v1::Pod pod;
  PodLife life;
  size_t next_report = 0;
  bool transferring = false;
  double remaining = 0;   // transfer work left, in full-speed milliseconds
  bool active = true;     // not yet ended
  bool recorded = false;  // in flight at the start: the recording's own events carry it
};

class SimulatedCluster {
 public:
  SimulatedCluster(const SimulationOptions& o, PullSource* pulls)
      : o_(o), pulls_(pulls), state_(o.start), index_(state_) {
    now_ = o.start_ms;
    for (const v1::Entry& e : o.inputs)
      At(e.time_ms(), [this, &e] { Input(e, true); });
    // Timers the operator had set before the start still fire.
    for (const v1::Requeue& q : state_.requeues())
      Timer(q.key(), q.at_ms());
    // Pods in flight at the start live on as the recording shows them (their watch events are
    // among the inputs); the API server knows them so that deletes succeed.
    for (const v1::PodRecord& r : AllPods(state_)) {
      SimPod p;
      p.pod = r.pod();
      p.active = false;
      p.recorded = true;
      pods_[r.pod().name()] = std::move(p);
    }
    for (const v1::ImageRecord& i : state_.images()) {
      images_[i.object().name()] = i.object();
      if (i.status_issued().phase() == "Ready") result_.ready_ms[i.object().name()] = 0;
    }
  }

  Result<SimulationResult> Run() {
    auto begin = std::chrono::steady_clock::now();
    while (true) {
      int64_t next = agenda_.next();
      int64_t transfer = NextTransferEnd();
      if (next == kNever && transfer == kNever) break;
      int64_t at = std::min(next, transfer);
      if (at > o_.until_ms) {  // it ran to the limit, with nothing before it left to happen
        Advance(o_.until_ms);
        break;
      }
      if (inputs_left_ == 0 && AllReady() && in_flight_ == 0) break;
      if (transfer <= next) {
        FinishTransfers(transfer);
        continue;
      }
      auto [when, run] = agenda_.Pop();
      Advance(std::max(now_, when));
      run();
      if (!status_.ok()) return status_;
    }
    result_.end_ms = now_;
    for (const v1::ImageRecord& i : state_.images())
      result_.phase_at_end[i.object().name()] = i.status_issued().phase();
    result_.wall_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    return result_;
  }

 private:
  void At(int64_t at, std::function<void()> run) {
    agenda_.At(at, std::move(run));
    if (at < 0) status_ = Status::Internal("negative time");
  }

  bool AllReady() const {
    for (const v1::ImageRecord& i : state_.images()) {
      if (i.object().deleting()) continue;
      if (i.status_issued().phase() != "Ready") return false;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // The core, as the operator's loop runs it: stamp, Step, journal, act.

  void Input(const v1::Entry& recorded, bool exogenous) {
    v1::Entry e = recorded;
    if (exogenous) {
      --inputs_left_;
      if (!Accept(&e)) return;
    }
    e.set_seq(state_.last_seq() + 1);
    e.set_time_ms(std::max(now_, state_.last_time_ms()));
    e.set_reconcile_id(0);
    std::vector<v1::Entry> decisions = Step(e, &state_, &index_);
    ++result_.inputs;
    Record(e);
    for (const v1::Entry& d : decisions)
      Record(d);
    for (const v1::Entry& d : decisions) {
      if (d.has_action()) Act(d);
    }
    // A recorded relist of pods (an operator restart, a 410) lists the pods the simulated
    // cluster holds, before the recorded RelistEnd; otherwise its end would forget them.
    if (exogenous && e.has_relist_begin() && e.relist_begin().kind() == v1::KIND_POD) {
      for (const auto& [name, p] : pods_) {
        if (p.recorded) continue;
        v1::Entry listed;
        listed.mutable_watch()->set_type(v1::LISTED);
        *listed.mutable_watch()->mutable_pod() = p.pod;
        Input(listed, false);
      }
    }
  }

  void Record(const v1::Entry& e) {
    ++result_.entries;
    if (o_.record) {
      v1::Entry scratch;
      o_.record(JournalForm(e, &scratch));
    }
  }

  // Recorded inputs that the simulated world replaces or has made moot.
  bool Accept(v1::Entry* e) {
    if (!e->has_watch()) return true;
    v1::WatchEvent* w = e->mutable_watch();
    if (w->has_cached_image()) {
      v1::CachedImage* c = w->mutable_cached_image();
      // The status is the one the simulated drop wrote.
      auto it = images_.find(c->name());
      v1::CachedImageStatus status =
          it != images_.end() ? it->second.status() : v1::CachedImageStatus();
      *c->mutable_status() = status;
      if (w->type() == v1::DELETED) {
        images_.erase(c->name());
        return true;
      }
      // A new CachedImage, or a new image for one, starts its life again (as History counts
      // lives): its first Ready is the one after this.
      if (it == images_.end() ||
          ImageMatchKey(it->second.spec().image()) != ImageMatchKey(c->spec().image())) {
        result_.first_ready_ms.erase(c->name());
      }
      images_[c->name()] = *c;
      return true;
    }
    if (w->has_pod()) {  // a pod from before the start, unless the simulated drop deleted it
      auto it = pods_.find(w->pod().name());
      if (it == pods_.end() || it->second.pod.uid() != w->pod().uid() || it->second.active) {
        return false;
      }
      if (w->type() == v1::DELETED) pods_.erase(it);
      return true;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // The API server.

  void Later(int64_t at, v1::Entry e) {
    At(at, [this, e = std::move(e)] { Input(e, false); });
  }

  void Act(const v1::Entry& action) {
    const v1::ActionIssued& a = action.action();
    switch (a.action_case()) {
      case v1::ActionIssued::kCreatePod:
        Create(action);
        return;
      case v1::ActionIssued::kDeletePod: {
        const v1::DeletePod& d = a.delete_pod();
        auto it = pods_.find(d.name());
        if (it == pods_.end() || it->second.pod.uid() != d.uid()) {
          bool missing = it == pods_.end();
          Later(now_, ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), false,
                                     missing ? 404 : 409, missing ? "NotFound" : "Conflict"));
          return;
        }
        v1::Entry gone;
        gone.mutable_watch()->set_type(v1::DELETED);
        *gone.mutable_watch()->mutable_pod() = it->second.pod;
        End(&it->second);
        pods_.erase(it);
        Later(now_, std::move(gone));
        Later(now_, ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), true, 200, ""));
        return;
      }
      case v1::ActionIssued::kPatchStatus: {
        const v1::PatchStatus& p = a.patch_status();
        auto it = images_.find(p.cached_image());
        if (it == images_.end() || it->second.uid() != p.uid()) {
          Later(now_, ActionResultOf(action, v1::ACTION_PATCH_STATUS, p.cached_image(), false, 404,
                                     "NotFound"));
          return;
        }
        const std::string& phase = p.status().phase();
        if (phase == "Ready" && it->second.status().phase() != "Ready") {
          result_.ready_ms[p.cached_image()] = now_;
          result_.first_ready_ms.try_emplace(p.cached_image(), now_);
        }
        *it->second.mutable_status() = p.status();
        it->second.mutable_status()->clear_cached_nodes();
        it->second.mutable_status()->clear_failed_nodes();
        it->second.set_resource_version(std::to_string(++resource_version_));
        v1::Entry echo;
        echo.mutable_watch()->set_type(v1::MODIFIED);
        *echo.mutable_watch()->mutable_cached_image() = it->second;
        Later(now_, std::move(echo));
        Later(now_,
              ActionResultOf(action, v1::ACTION_PATCH_STATUS, p.cached_image(), true, 200, ""));
        return;
      }
      case v1::ActionIssued::kRequeue:
        Timer(a.requeue().key(), a.requeue().at_ms());
        return;
      default:
        return;
    }
  }

  void Timer(const v1::Key& key, int64_t at) {
    std::string k = KeyString(key);
    timers_[k] = at;
    At(std::max(at, now_), [this, k, key, at] {
      auto it = timers_.find(k);
      if (it == timers_.end() || it->second != at) return;  // replaced
      timers_.erase(it);
      v1::Entry e;
      *e.mutable_timer()->mutable_key() = key;
      Input(e, false);
    });
  }

  // ------------------------------------------------------------------------------------------
  // The kubelet.

  void Create(const v1::Entry& action) {
    const v1::DropPodSpec& spec = action.action().create_pod().pod();
    if (pods_.count(spec.name()) > 0) {
      Later(now_, ActionResultOf(action, v1::ACTION_CREATE_POD, spec.name(), false, 409,
                                 "AlreadyExists"));
      return;
    }
    SimPod p;
    p.pod = CreatedPod(spec, "sim-uid-" + std::to_string(++uid_), now_);
    const v1::Pod& pod = p.pod;
    int attempt = attempts_[spec.cached_image() + '\0' + spec.node()]++;
    p.life = pulls_->Life(spec.cached_image(), spec.node(), attempt);
    ++result_.pulls;
    ++in_flight_;
    result_.peak_active = std::max(result_.peak_active, in_flight_);
    std::string name = pod.name(), uid = pod.uid();
    v1::Entry added;
    added.mutable_watch()->set_type(v1::ADDED);
    *added.mutable_watch()->mutable_pod() = pod;
    v1::Entry created = ActionResultOf(action, v1::ACTION_CREATE_POD, name, true, 201, "");
    created.mutable_action_result()->set_uid(uid);
    pods_[name] = std::move(p);
    Later(now_, std::move(added));
    Later(now_, std::move(created));
    const int64_t start = now_;
    At(now_, [this, name, uid, start] { Schedule(name, uid, start); });
  }

  // Plans the pod's next report: at its recorded offset, or for the last one of a transfer when
  // the bandwidth model says its bytes are in.
  void Schedule(const std::string& name, const std::string& uid, int64_t start) {
    auto it = pods_.find(name);
    if (it == pods_.end() || it->second.pod.uid() != uid) return;
    SimPod& p = it->second;
    if (p.next_report >= p.life.reports.size()) return;  // hangs
    bool last = p.next_report + 1 == p.life.reports.size();
    if (last && p.life.transfer_ms > 0 && o_.full_speed_pulls > 0) {
      p.transferring = true;
      p.remaining = static_cast<double>(p.life.transfer_ms);
      transferring_.insert(name);
      return;
    }
    int64_t at = start + p.life.reports[p.next_report].offset_ms;
    At(std::max(at, now_), [this, name, uid, start] { Report(name, uid, start); });
  }

  void Report(const std::string& name, const std::string& uid, int64_t start) {
    auto it = pods_.find(name);
    if (it == pods_.end() || it->second.pod.uid() != uid) return;
    SimPod& p = it->second;
    const PodLife::Report& r = p.life.reports[p.next_report++];
    v1::Pod& pod = p.pod;
    pod.set_phase(r.phase);
    pod.set_waiting_reason(r.waiting_reason);
    pod.set_waiting_message(r.waiting_message);
    pod.set_terminated_reason(r.terminated_reason);
    pod.set_exit_code(r.exit_code);
    bool ended = r.phase == v1::POD_SUCCEEDED || r.phase == v1::POD_FAILED;
    if (ended) {
      pod.set_finish_time_ms(now_);
      End(&p);
    }
    v1::Entry e;
    e.mutable_watch()->set_type(v1::MODIFIED);
    *e.mutable_watch()->mutable_pod() = pod;
    Input(e, false);
    if (!ended) Schedule(name, uid, start);
  }

  void End(SimPod* p) {
    if (p->active) {
      p->active = false;
      --in_flight_;
    }
    if (p->transferring) {
      p->transferring = false;
      transferring_.erase(p->pod.name());
    }
  }

  // ------------------------------------------------------------------------------------------
  // Bandwidth: processor sharing among the pulls moving bytes. Up to full_speed_pulls move at
  // full speed; beyond that each gets full_speed_pulls / n of it.

  double Rate() const {
    size_t n = transferring_.size();
    if (n == 0 || o_.full_speed_pulls <= 0) return 1;
    return std::min(1.0, static_cast<double>(o_.full_speed_pulls) / static_cast<double>(n));
  }

  // Moves the clock, charging the transfers for the time that passed.
  void Advance(int64_t to) {
    if (to > now_ && !transferring_.empty()) {
      double done = static_cast<double>(to - now_) * Rate();
      for (const std::string& name : transferring_)
        pods_[name].remaining -= done;
    }
    now_ = std::max(now_, to);
  }

  int64_t NextTransferEnd() const {
    if (transferring_.empty()) return kNever;
    double least = std::numeric_limits<double>::max();
    for (const std::string& name : transferring_)
      least = std::min(least, pods_.at(name).remaining);
    return now_ + static_cast<int64_t>(std::ceil(std::max(0.0, least) / Rate()));
  }

  void FinishTransfers(int64_t at) {
    Advance(at);
    std::vector<std::string> done;
    for (const std::string& name : transferring_) {
      if (pods_[name].remaining <= 0.5) done.push_back(name);
    }
    for (const std::string& name : done) {
      SimPod& p = pods_[name];
      p.transferring = false;
      transferring_.erase(name);
      std::string uid = p.pod.uid();
      int64_t start = p.pod.creation_time_ms();
      Report(name, uid, start);
    }
  }

  const SimulationOptions& o_;
  PullSource* pulls_;
  v1::State state_;
  Index index_;  // of state_
  int64_t now_ = 0;
  Status status_;
  Agenda agenda_;
  uint64_t uid_ = 0, resource_version_ = 1'000'000;
  size_t inputs_left_ = o_.inputs.size();
  int in_flight_ = 0;
  std::unordered_map<std::string, SimPod> pods_;
  std::set<std::string> transferring_;
  std::unordered_map<std::string, v1::CachedImage> images_;
  std::unordered_map<std::string, int64_t> timers_;
  std::unordered_map<std::string, int> attempts_;
  SimulationResult result_;
};

}  // namespace

Result<SimulationResult> Simulate(const SimulationOptions& options, PullSource* pulls) {
  SimulatedCluster cluster(options, pulls);
  return cluster.Run();
}

}  // namespace drop::replay
