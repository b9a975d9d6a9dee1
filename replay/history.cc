#include "replay/history.h"

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <unordered_set>

#include "core/image_ref.h"
#include "core/image_view.h"
#include "core/pacing.h"
#include "core/scheduling.h"
#include "core/state.h"
#include "core/step.h"
#include "journal/read_ahead.h"
#include "journal/wire.h"

namespace drop::replay {

int Names::Id(const std::string& name) {
  // try_emplace: a name seen before, as most are, costs a lookup and no node.
  auto [it, inserted] = ids_.try_emplace(name, static_cast<int>(names_.size()));
  if (inserted) names_.push_back(name);
  return it->second;
}

int Names::Find(const std::string& name) const {
  auto it = ids_.find(name);
  return it == ids_.end() ? -1 : it->second;
}

std::string ImageMatchKey(const std::string& image) {
  Result<ImageRef> ref = ParseImageRef(image);
  return ref.ok() ? ref->MatchKey() : "";
}

namespace {

// The kind of object a stored EmitEvent is about (its field 1), read without decoding it.
int EventKind(std::string_view event) {
  int kind = v1::KIND_UNKNOWN;
  journal::wire::ForEachField(event, 0, event.size(),
                              [&](int field, int type, uint64_t value, std::string_view) {
                                if (field != 1 || type != 0) return true;
                                kind = static_cast<int>(value);
                                return false;
                              });
  return kind;
}

// What a History needs of the entry, judged from its bytes by schema.proto's field numbers:
// nothing of timers (Entry 13), deletes, requeues and Events but those on a PullPolicy
// (ActionIssued 2, 5, 4); a skim of pod creations (ActionIssued 1), pod watch events
// (WatchEvent.pod, 7) and action results (14): see Skim. The rest, and what it cannot judge, whole.
journal::ReadAhead::Need Wanted(std::string_view b) {
  using journal::wire::MessageField;
  using Need = journal::ReadAhead::Need;
  std::string_view kind, inner;
  switch (journal::wire::EntryKind(b, &kind)) {
    case 13:
      return Need::kNothing;
    case 14:
      return Need::kSkim;
    case 10:
      return MessageField(kind, 3, &inner) == 7 ? Need::kSkim : Need::kWhole;
    case 23:
      switch (MessageField(kind, 1, &inner)) {
        case 1:
          return Need::kSkim;
        case 2:
        case 5:
          return Need::kNothing;
        case 4:  // an Event: only one on a PullPolicy (EmitEvent.kind 1) tells a history anything
          return EventKind(inner) == v1::KIND_PULL_POLICY ? Need::kWhole : Need::kNothing;
        default:
          return Need::kWhole;
      }
    default:
      return Need::kWhole;
  }
}

// Hands the fields of message `m` to take(field, wire type, varint value, payload).
template <typename Take>
bool Fields(std::string_view m, Take&& take) {
  return journal::wire::ForEachField(m, 0, m.size(),
                                     [&](int field, int type, uint64_t value, std::string_view p) {
                                       take(field, type, value, p);
                                       return true;
                                     });
}

// The fields of a CreatePod entry that a History takes: the policy and the pod's name, node and
// CachedImage (schema.proto: Entry.action 23, ActionIssued.create_pod 1, CreatePod.pod 1 and
// policy 2, DropPodSpec.name 2, node 5 and cached_image 6). The rest of the pod's spec, most of
// the entry, is not decoded.
bool SkimCreatePod(std::string_view b, v1::Entry* e) {
  std::string_view kind, create, pod;
  if (journal::wire::EntryKind(b, &kind) != 23 ||
      journal::wire::MessageField(kind, 1, &create) != 1) {
    return false;
  }
  v1::CreatePod* c = e->mutable_action()->mutable_create_pod();
  v1::DropPodSpec* spec = c->mutable_pod();
  return Fields(create,
                [&](int field, int type, uint64_t, std::string_view p) {
                  if (field == 1 && type == 2) pod = p;
                  if (field == 2 && type == 2) c->set_policy(std::string(p));
                }) &&
         Fields(pod, [&](int field, int type, uint64_t, std::string_view p) {
           if (field == 2 && type == 2) spec->set_name(std::string(p));
           if (field == 5 && type == 2) spec->set_node(std::string(p));
           if (field == 6 && type == 2) spec->set_cached_image(std::string(p));
         });
}

// The fields of a pod's watch event that say whether it pulls (core/pacing.h IsPulling) and which
// pod it is: the event's type, and the pod's name, uid, CachedImage, phase and waiting reason
// (WatchEvent.type 1 and pod 7; Pod.name 1, uid 2, cached_image 4, phase 7, waiting_reason 8).
bool SkimPodWatch(std::string_view kind, v1::Entry* e) {
  v1::WatchEvent* w = e->mutable_watch();
  std::string_view pod;
  bool ok = Fields(kind, [&](int field, int type, uint64_t value, std::string_view p) {
    if (field == 1 && type == 0) w->set_type(static_cast<v1::EventType>(value));
    if (field == 7 && type == 2) pod = p;
  });
  v1::Pod* out = w->mutable_pod();
  return ok && Fields(pod, [&](int field, int type, uint64_t value, std::string_view p) {
           if (field == 1 && type == 2) out->set_name(std::string(p));
           if (field == 2 && type == 2) out->set_uid(std::string(p));
           if (field == 4 && type == 2) out->set_cached_image(std::string(p));
           if (field == 7 && type == 0) out->set_phase(static_cast<v1::PodPhase>(value));
           if (field == 8 && type == 2) out->set_waiting_reason(std::string(p));
         });
}

// The fields of an action result that say whether a pod is still counted: its kind, target,
// whether it succeeded, the server's reason and a created pod's uid (ActionResult 2, 3, 4, 6, 8).
bool SkimActionResult(std::string_view kind, v1::Entry* e) {
  v1::ActionResult* r = e->mutable_action_result();
  return Fields(kind, [&](int field, int type, uint64_t value, std::string_view p) {
    if (field == 2 && type == 0) r->set_kind(static_cast<v1::ActionKind>(value));
    if (field == 3 && type == 2) r->set_target(std::string(p));
    if (field == 4 && type == 0) r->set_ok(value != 0);
    if (field == 6 && type == 2) r->set_reason(std::string(p));
    if (field == 8 && type == 2) r->set_uid(std::string(p));
  });
}

// The few fields a History takes of the entries Wanted skims.
bool Skim(std::string_view b, v1::Entry* e) {
  std::string_view kind;
  switch (journal::wire::EntryKind(b, &kind)) {
    case 10:
      return SkimPodWatch(kind, e);
    case 14:
      return SkimActionResult(kind, e);
    default:
      return SkimCreatePod(b, e);
  }
}

// The key of an (image, node) pair, by their ids: the image's in the high half.
uint64_t PairOf(int image, int node) {
  return (static_cast<uint64_t>(image) << 32) | static_cast<uint32_t>(node);
}

// Follows which drop pods each policy counts as active, as the core's fold and IsActive do,
// from the few fields of them the History decodes.
class Actives {
 public:
  explicit Actives(History* h) : h_(h) {}

  // The state the History starts from: a pod relist under way, and each pod.
  void Relisting(uint64_t begin) { relist_begin_ = begin; }
  void Existing(const v1::PodRecord& r) {
    Pod& p = pods_[r.pod().name()];
    p.image = r.pod().cached_image();
    p.policy = h_->policies.Id(r.policy());
    p.uid = r.pod().uid();
    p.create_failed = !r.create_error().empty();
    p.create_pending = r.create_pending();
    p.observed = r.observed();
    p.pulling = IsPulling(r.pod());
    p.mark = r.relist_mark();
    if (IsActive(r)) {
      h_->active_from.resize(h_->policies.size());
      ++h_->active_from[p.policy];
    }
  }

  // A record the pod had stays as it was, but for its policy (ApplyAction).
  void Created(const std::string& name, const std::string& image, int policy, const v1::Entry& e) {
    auto [it, fresh] = pods_.try_emplace(name);
    Pod& p = it->second;
    if (fresh) p.image = image;
    Count(p, e, -1);
    p.policy = policy;
    p.create_pending = true;
    p.observed = false;
    Count(p, e, +1);
  }

  void Result(const v1::ActionResult& r, const v1::Entry& e) {
    auto it = pods_.find(r.target());
    if (it == pods_.end()) return;
    Pod& p = it->second;
    if (r.kind() == v1::ACTION_DELETE_POD && !r.ok() && r.reason() == "NotFound") {
      Count(p, e, -1);
      pods_.erase(it);
    } else if (r.kind() == v1::ACTION_CREATE_POD) {
      p.create_pending = false;
      if (r.ok() || r.reason() == "AlreadyExists" || p.observed) {
        if (p.uid.empty()) p.uid = r.uid();
      } else {
        Count(p, e, -1);
        p.create_failed = true;
      }
    }
  }

  // `policy`: the policy of the pod's CachedImage now, for a pod drop did not create.
  void Watched(const v1::WatchEvent& w, int policy, const v1::Entry& e) {
    const v1::Pod& pod = w.pod();
    auto [it, fresh] = pods_.try_emplace(pod.name());
    Pod& p = it->second;
    if (w.type() == v1::DELETED) {
      Count(p, e, -1);
      pods_.erase(it);
      return;
    }
    // A pod new to drop, or another under the name of one it knew, starts from nothing: the one
    // it replaces is counted out under its own policy.
    if (fresh || (!p.uid.empty() && p.uid != pod.uid())) {
      Count(p, e, -1);
      p = Pod();
      p.image = pod.cached_image();
      p.policy = policy;
      p.pulling = false;  // counted in below when it pulls
    }
    const bool was = Active(p);
    p.uid = pod.uid();
    p.observed = true;
    p.pulling = IsPulling(pod);
    if (w.type() == v1::LISTED && relist_begin_ != 0) p.mark = relist_begin_;
    if (Active(p) != was) {
      h_->active_changes.push_back({e.seq(), e.time_ms(), p.policy, Active(p) ? 1 : -1});
    }
  }

  // The CachedImage's pods count against `policy` from here on (see ApplyCachedImage).
  void Moved(const std::string& image, int policy, const v1::Entry& e) {
    for (auto& [name, p] : pods_) {
      if (p.image != image || p.policy == policy) continue;
      Count(p, e, -1);
      p.policy = policy;
      Count(p, e, +1);
    }
  }

  // A pod whose create failed goes with its outcome (ApplyOutcome).
  void Ended(const v1::PullOutcome& o) {
    auto it = pods_.find(o.pod());
    if (it != pods_.end() && it->second.create_failed) pods_.erase(it);
  }

  // A new process: no relist is under way and no create is in flight (ApplyStarted).
  void Started() {
    relist_begin_ = 0;
    for (auto& [name, p] : pods_)
      p.create_pending = false;
  }

  void RelistBegin(const v1::Entry& e) {
    if (e.relist_begin().kind() == v1::KIND_POD) relist_begin_ = e.seq();
  }

  // The pods the relist did not list are gone, but for a create in flight (ApplyRelistEnd).
  void RelistEnd(const v1::Entry& e) {
    if (e.relist_end().kind() != v1::KIND_POD || relist_begin_ == 0) return;
    std::erase_if(pods_, [&](const auto& named) {
      const Pod& p = named.second;
      if (p.mark >= relist_begin_ || p.create_pending) return false;
      Count(p, e, -1);
      return true;
    });
    relist_begin_ = 0;
  }

 private:
  // A pod as the fold's PodRecord has what IsActive and the fold's erasures read.
  struct Pod {
    std::string image;
    int policy = -1;
    bool create_failed = false;
    bool create_pending = false;
    bool observed = false;  // the watch has shown it since its create
    bool pulling = true;    // created: no phase yet, so pending
    std::string uid;
    uint64_t mark = 0;  // the RelistBegin it was last listed in
  };
  static bool Active(const Pod& p) { return p.policy >= 0 && !p.create_failed && p.pulling; }
  // Counts `p` in (+1) or out (-1) of its policy's active pulls, when it is active.
  void Count(const Pod& p, const v1::Entry& e, int delta) {
    if (Active(p)) h_->active_changes.push_back({e.seq(), e.time_ms(), p.policy, delta});
  }

  History* h_;
  std::unordered_map<std::string, Pod> pods_;
  uint64_t relist_begin_ = 0;  // the pod relist under way
};

// Follows which nodes each CachedImage targets, so a pull's wait can start where the node began
// to want the image: when the CachedImage (or its image) appeared, or the node came to match.
class Wants {
 public:
  explicit Wants(History* h) : h_(h) {}

  void Image(const v1::CachedImage& object, bool deleted, int64_t now) {
    int id = h_->images.Id(object.name());
    Grow();
    if (deleted) {
      specs_.erase(id);
      return;
    }
    auto it = specs_.find(id);
    std::string key = ImageMatchKey(object.spec().image());
    bool fresh = it == specs_.end() || keys_[id] != key;
    bool spec_changed =
        fresh || it->second.SerializeAsString() != object.spec().SerializeAsString();
    specs_[id] = object.spec();
    keys_[id] = key;
    if (!spec_changed) return;
    for (const auto& [name, node] : nodes_) {
      int n = h_->nodes.Id(name);
      Grow();
      bool targeted = FitNode(node, object.spec()) == Fit::kTargeted;
      int64_t& since = since_[id][n];
      if (!targeted) {
        since = 0;
      } else if (fresh || since == 0) {
        since = now;
      }
    }
  }

  void Node(const v1::Node& node, bool deleted, int64_t now) {
    int n = h_->nodes.Id(node.name());
    Grow();
    if (deleted) {
      nodes_.erase(node.name());
      for (auto& row : since_)
        if (n < static_cast<int>(row.size())) row[n] = 0;
      return;
    }
    nodes_[node.name()] = node;
    for (const auto& [id, spec] : specs_) {
      bool targeted = FitNode(node, spec) == Fit::kTargeted;
      int64_t& since = since_[id][n];
      if (!targeted) {
        since = 0;
      } else if (since == 0) {
        since = now;
      }
    }
  }

  // Calls f(image, node, since) for every node each CachedImage targets that does not list its
  // image (under imagePullPolicy Always a listed image counts for nothing: `always(image)`).
  template <typename F, typename Always>
  void ForEachWanting(Always&& always, F&& f) const {
    for (const auto& [id, spec] : specs_) {
      const uint64_t hash = MatchHash(keys_.at(id));
      const bool listing_counts = !always(id);
      for (const auto& [name, node] : nodes_) {
        const int n = h_->nodes.Find(name);
        const int64_t since = Since(id, n);
        if (since == 0 || (listing_counts && Lists(node, hash))) continue;
        f(id, n, since);
      }
    }
  }

  int64_t Since(int image, int node) const {
    if (image >= static_cast<int>(since_.size()) || node >= static_cast<int>(since_[image].size()))
      return 0;
    return since_[image][node];
  }

 private:
  void Grow() {
    size_t images = static_cast<size_t>(h_->images.size());
    size_t nodes = static_cast<size_t>(h_->nodes.size());
    if (since_.size() < images) since_.resize(images);
    for (auto& row : since_)
      if (row.size() < nodes) row.resize(std::max(nodes, row.size() * 2), 0);
  }

  History* h_;
  std::map<int, v1::CachedImageSpec> specs_;
  std::map<int, std::string> keys_;
  std::map<std::string, v1::Node> nodes_;
  std::vector<std::vector<int64_t>> since_;
};

}  // namespace

Result<History> History::Scan(const Reader& r, const Point& from, uint64_t to,
                              const HistoryOptions& o) {
  History h;
  h.from_seq = from.seq;
  h.from_ms = from.time_ms;
  h.to_seq = to;
  Result<v1::State> start = r.StateAt(from);
  if (!start.ok()) return start.status();
  Wants wants(&h);
  auto keep = [&](const std::string& image) {
    return o.only_image.empty() || image == o.only_image;
  };
  // The world at `from`: nodes, then CachedImages (what each targets from the start).
  for (const v1::NodeRecord& n : start->nodes())
    wants.Node(n.node(), false, from.time_ms);
  for (const v1::ImageRecord& i : start->images()) {
    if (!keep(i.object().name())) continue;
    wants.Image(i.object(), false, from.time_ms);
    h.lives.resize(h.images.size());
    ImageLife& l = h.lives[h.images.Find(i.object().name())];
    l.since_ms = from.time_ms;
    l.generation = i.object().generation();
    l.image = i.object().spec().image();
    l.policy = i.object().spec().pull_policy_ref();
    l.phase = i.status_issued().phase();
    // Its first Ready is one the range sees it become, as the simulation's is.
    if (l.phase == "Ready") l.ready_ms = i.status_written_ms();
  }
  // Pods already in flight at `from`.
  Actives actives(&h);
  for (const v1::RelistProgress& p : start->relisting()) {
    if (p.kind() == v1::KIND_POD) actives.Relisting(p.begin_seq());
  }
  std::unordered_map<std::string, size_t> open;  // pod name -> index in pulls
  for (const v1::PodRecord& p : AllPods(*start)) {
    if (!keep(p.pod().cached_image())) continue;
    if (o.passes) actives.Existing(p);
    if (p.accounted()) continue;
    PullRecord pull;
    pull.image = h.images.Id(p.pod().cached_image());
    pull.node = h.nodes.Id(p.pod().node());
    pull.policy = h.policies.Id(p.policy());
    pull.pod = p.pod().name();
    pull.start_ms = p.issued_ms() > 0 ? p.issued_ms() : p.pod().creation_time_ms();
    pull.wait_from_ms = pull.start_ms;
    open[pull.pod] = h.pulls.size();
    h.pulls.push_back(std::move(pull));
  }
  std::unordered_map<uint64_t, int64_t> last_end;  // (image, node) -> last outcome time
  // The (image, node) pairs drop pulled, as ImageRecord.pulled_nodes has them: the fold forgets a
  // node deleted or replaced (a new uid), and every node of an image that changed.
  std::unordered_set<uint64_t> pulled;
  for (const v1::ImageRecord& i : start->images()) {
    if (!keep(i.object().name())) continue;
    for (const std::string& node : i.pulled_nodes())
      pulled.insert(PairOf(h.images.Find(i.object().name()), h.nodes.Id(node)));
  }
  auto forget = [&](auto drop) { std::erase_if(pulled, drop); };
  std::unordered_map<std::string, std::string> node_uids;
  for (const v1::NodeRecord& n : start->nodes())
    node_uids[n.node().name()] = n.node().uid();
  // Every policy in force at `from` has a line, active or not: the recorded ones, and the
  // built-in one when a CachedImage uses it.
  for (const v1::PolicyRecord& p : start->policies())
    h.policies.Id(p.object().name());
  for (const v1::ImageRecord& i : start->images()) {
    if (keep(i.object().name()) && i.object().spec().pull_policy_ref().empty()) h.policies.Id("");
  }
  std::map<std::string, bool> always;  // PullPolicies under imagePullPolicy Always
  for (const v1::PolicyRecord& p : start->policies())
    always[p.object().name()] = p.object().spec().image_pull_policy() == "Always";
  uint64_t reconcile_id = 0, trigger = 0;
  bool policy_pass = false;
  int pass_policy = -1;

  auto take = [&](const v1::Entry& e) {
    const int64_t now = e.time_ms();
    h.to_ms = now;
    if (policy_pass && o.passes && !h.passes.empty() &&
        e.reconcile_id() == h.passes.back().reconcile_id) {
      h.passes.back().last_seq = e.seq();
    }
    switch (e.kind_case()) {
      case v1::Entry::kWatch: {
        const v1::WatchEvent& w = e.watch();
        bool deleted = w.type() == v1::DELETED;
        if (w.has_pull_policy()) {
          always[w.pull_policy().name()] =
              !deleted && w.pull_policy().spec().image_pull_policy() == "Always";
        }
        if (w.has_node()) {
          auto [uid, fresh] = node_uids.try_emplace(w.node().name(), w.node().uid());
          if (deleted || (!fresh && !uid->second.empty() && uid->second != w.node().uid())) {
            const int node = h.nodes.Id(w.node().name());
            forget([&](uint64_t p) { return static_cast<int>(p & 0xffffffff) == node; });
          }
          uid->second = deleted ? "" : w.node().uid();
          wants.Node(w.node(), deleted, now);
        } else if (w.has_cached_image() && keep(w.cached_image().name())) {
          const v1::CachedImage& c = w.cached_image();
          int id = h.images.Id(c.name());
          if (static_cast<int>(h.lives.size()) <= id) h.lives.resize(id + 1);
          ImageLife& l = h.lives[id];
          bool fresh = l.image.empty() || l.deleted ||
                       ImageMatchKey(l.image) != ImageMatchKey(c.spec().image());
          if (fresh) {
            forget([&](uint64_t p) { return static_cast<int>(p >> 32) == id; });
          }
          if (fresh && !deleted) {
            l.since_ms = now;
            l.ready_ms = l.first_ready_ms = 0;
            l.phase.clear();
          }
          // After the core folds a CachedImage, its pods count against its policy (see
          // ApplyCachedImage): a pull in flight moves with it, also when the CachedImage is new
          // to the history (pods can come before their CachedImage).
          if (!deleted && (fresh || l.policy != c.spec().pull_policy_ref())) {
            const int to = h.policies.Id(c.spec().pull_policy_ref());
            if (o.passes) actives.Moved(c.name(), to, e);
          }
          l.deleted = deleted;
          l.generation = c.generation();
          l.image = c.spec().image();
          l.policy = c.spec().pull_policy_ref();
          wants.Image(c, deleted, now);
        } else if (w.has_pod() && keep(w.pod().cached_image())) {
          if (o.passes) {
            // A pod drop did not create counts against its CachedImage's policy (ApplyPod), or
            // the built-in one's when there is none.
            int id = h.images.Find(w.pod().cached_image());
            bool known = id >= 0 && id < static_cast<int>(h.lives.size()) && !h.lives[id].deleted;
            actives.Watched(w, h.policies.Id(known ? h.lives[id].policy : ""), e);
          }
          auto p = o.pod_reports ? open.find(w.pod().name()) : open.end();
          if (p != open.end()) {
            PullRecord& pull = h.pulls[p->second];
            pull.reports.push_back({now - pull.start_ms, w.pod(), deleted});
          }
        }
        break;
      }
      case v1::Entry::kActionResult:
        if (o.passes) actives.Result(e.action_result(), e);
        break;
      case v1::Entry::kStarted:
        if (o.passes) actives.Started();
        break;
      case v1::Entry::kRelistBegin:
        if (o.passes) actives.RelistBegin(e);
        break;
      case v1::Entry::kRelistEnd:
        if (o.passes) actives.RelistEnd(e);
        break;
      case v1::Entry::kReconcile:
        reconcile_id = e.seq();
        trigger = e.reconcile().trigger_seq();
        policy_pass = e.reconcile().key().kind() == v1::KIND_PULL_POLICY &&
                      (!o.only_policy || *o.only_policy == e.reconcile().key().name());
        pass_policy = policy_pass ? h.policies.Id(e.reconcile().key().name()) : -1;
        if (policy_pass && o.passes) {
          PassRecord pass;
          pass.policy = pass_policy;
          pass.reconcile_id = reconcile_id;
          pass.last_seq = reconcile_id;
          pass.trigger_seq = trigger;
          pass.time_ms = now;
          pass.active_before = -1;
          h.passes.push_back(std::move(pass));
        }
        break;
      case v1::Entry::kPacing: {
        if (!policy_pass || !o.passes || h.passes.empty()) break;
        const v1::PacingDecision& d = e.pacing();
        PassRecord& pass = h.passes.back();
        // A wait on its CachedImage's own state (NoEligibleNode, a failing image's one pull at a
        // time) leaves the policy's counters out, and a policy's limit is at least 1; the others
        // carry them.
        if (d.limit() > 0) {
          if (pass.active_before < 0) pass.active_before = d.active();
          pass.active_after = d.active() + (d.verdict() == v1::START ? 1 : 0);
          pass.limit = d.limit();
          pass.last_creation_ms = d.last_creation_ms();
          pass.min_delay_ms = d.min_delay_ms();
        }
        int image = h.images.Id(d.cached_image());
        switch (d.verdict()) {
          case v1::START:
            ++pass.starts;
            pass.started.push_back({image, h.nodes.Id(d.node()), e.seq()});
            break;
          case v1::WAIT_CONCURRENCY:
          case v1::WAIT_MIN_DELAY:
            pass.blocking = d.verdict();
            pass.blocking_seq = e.seq();
            pass.next_image = image;
            pass.not_before_ms = d.not_before_ms();
            break;
          default:
            if (image >= 0) pass.held.push_back({image, d.verdict(), e.seq(), d.not_before_ms()});
            break;
        }
        break;
      }
      case v1::Entry::kAction: {
        const v1::ActionIssued& a = e.action();
        // A CreatePod is skimmed (SkimCreatePod): what it takes of one must be among its fields.
        if (a.has_create_pod() && keep(a.create_pod().pod().cached_image())) {
          const v1::DropPodSpec& spec = a.create_pod().pod();
          PullRecord pull;
          pull.image = h.images.Id(spec.cached_image());
          pull.node = h.nodes.Id(spec.node());
          pull.policy = h.policies.Id(a.create_pod().policy());
          pull.pod = spec.name();
          pull.start_seq = e.seq();
          pull.start_ms = now;
          pull.trigger_seq = e.reconcile_id() == reconcile_id ? trigger : 0;
          int64_t since = wants.Since(pull.image, pull.node);
          const uint64_t pair = PairOf(pull.image, pull.node);
          auto prev = last_end.find(pair);
          if (prev != last_end.end()) since = std::max(since, prev->second);
          pull.wait_from_ms = since > 0 && since <= now ? since : now;
          if (o.passes) actives.Created(pull.pod, spec.cached_image(), pull.policy, e);
          open[pull.pod] = h.pulls.size();
          h.pulls.push_back(std::move(pull));
        } else if (a.has_emit_event() && a.emit_event().kind() == v1::KIND_PULL_POLICY &&
                   a.emit_event().reason() == kInvalidSpec && policy_pass && o.passes &&
                   !h.passes.empty()) {
          h.passes.back().invalid_spec = true;
        } else if (a.has_patch_status() && keep(a.patch_status().cached_image())) {
          int id = h.images.Id(a.patch_status().cached_image());
          if (static_cast<int>(h.lives.size()) <= id) h.lives.resize(id + 1);
          ImageLife& l = h.lives[id];
          const std::string& phase = a.patch_status().status().phase();
          if (phase == "Ready" && l.phase != "Ready") {
            l.ready_ms = now;
            if (l.first_ready_ms == 0) l.first_ready_ms = now;
          }
          l.phase = phase;
        }
        break;
      }
      case v1::Entry::kOutcome: {
        const v1::PullOutcome& out = e.outcome();
        if (o.passes) actives.Ended(out);
        auto p = open.find(out.pod());
        if (p == open.end()) break;
        PullRecord& pull = h.pulls[p->second];
        // Not the outcome's time: a pull found ended by a relist ended earlier, as its duration
        // (measured from the kubelet's finishedAt) tells.
        pull.end_ms =
            out.duration_ms() > 0 ? std::min(now, pull.start_ms + out.duration_ms()) : now;
        pull.end_seq = e.seq();
        pull.outcome = out.outcome();
        pull.reason = out.reason();
        pull.message = out.message();
        pull.duration_ms = out.duration_ms();
        const uint64_t pair = PairOf(pull.image, pull.node);
        last_end[pair] = pull.end_ms;
        if (pull.outcome == v1::PULL_SUCCEEDED) pulled.insert(pair);
        if (!o.pod_reports) open.erase(p);
        break;
      }
      default:
        break;
    }
  };
  // Unless every entry is asked for, most say nothing a history keeps (pod watch events, action
  // results, timers, Events, requeues): they are recognised from their first bytes and not
  // decoded. RocksDB's iteration and the decoding run ahead on a thread of their own.
  const bool every = o.each || o.pod_reports;
  journal::ReadAhead entries(r.store(), from.seq + 1, to, every ? nullptr : Wanted, Skim);
  while (const std::vector<const v1::Entry*>* chunk = entries.Next()) {
    for (const v1::Entry* e : *chunk) {
      take(*e);
      if (o.each) o.each(*e);
    }
  }
  if (!entries.status().ok()) return entries.status();
  if (!every) {  // the last entry may be one not taken
    Result<v1::Entry> last = r.store().Get(to);
    if (last.ok()) h.to_ms = std::max(h.to_ms, last->time_ms());
  }
  h.lives.resize(h.images.size());
  // Who still waits at the end: wants the image, does not list it, has no pull of it in flight,
  // and has not pulled it since it began to want it.
  std::set<uint64_t> in_flight;
  for (const PullRecord& p : h.pulls) {
    if (p.end_ms == 0) {
      in_flight.insert(PairOf(p.image, p.node));
    }
  }
  wants.ForEachWanting(
      [&](int image) {
        auto it = always.find(h.lives[image].policy);
        return it != always.end() && it->second;
      },
      [&](int image, int node, int64_t since) {
        if (!keep(h.images[image])) return;
        const uint64_t pair = PairOf(image, node);
        if (in_flight.count(pair) > 0 || pulled.count(pair) > 0) return;
        auto end = last_end.find(pair);
        if (end != last_end.end()) since = std::max(since, end->second);  // from its failure
        h.waiting.push_back({image, node, h.policies.Id(h.lives[image].policy), since});
      });
  h.active_from.resize(h.policies.size());
  // How each policy, and each image's own hold, stood at `from`: a range that starts mid-rollout
  // knows the limits and the waits its first passes do not repeat.
  h.limit_from.assign(h.policies.size(), -1);
  h.blocking_from.assign(h.policies.size(), v1::VERDICT_UNKNOWN);
  for (int p = 0; p < h.policies.size(); ++p) {
    if (const v1::PullPolicySpec* spec = FindPolicySpec(*start, h.policies[p])) {
      h.limit_from[p] = spec->max_concurrent_nodes();
      if (h.active_from[p] >= spec->max_concurrent_nodes()) {
        h.blocking_from[p] = v1::WAIT_CONCURRENCY;
      }
    }
  }
  for (const v1::ImageRecord& i : start->images()) {
    const v1::PacingDecision& w = i.last_wait();
    const bool own = w.verdict() == v1::WAIT_BACKOFF || w.verdict() == v1::NO_ELIGIBLE_NODE;
    if (!own || !keep(i.object().name())) continue;
    if (w.not_before_ms() > 0 && w.not_before_ms() <= from.time_ms) continue;  // over by then
    h.held_from.push_back({h.images.Find(i.object().name()), w.verdict(), 0, w.not_before_ms()});
  }
  return h;
}

}  // namespace drop::replay
