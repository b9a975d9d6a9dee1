#include "core/step.h"

#include <set>
#include <string>

#include "core/fold.h"
#include "core/image_view.h"
#include "core/index.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/scheduling.h"
#include "core/state.h"

namespace drop {
namespace {

struct Keys {
  std::set<std::string> images;
  std::set<std::string> policies;

  void Image(const v1::State& state, const std::string& name) {
    images.insert(name);
    if (const v1::ImageRecord* r = Find(state.images(), name)) {
      policies.insert(r->object().spec().pull_policy_ref());
    }
  }
  void All(const v1::State& state) {
    for (const v1::ImageRecord& r : state.images())
      Image(state, r.object().name());
    for (const v1::PolicyRecord& r : state.policies())
      policies.insert(r.object().name());
    policies.insert("");
  }
};

// How a node stands for one image: whether it is targeted, and whether it lists the image.
// `same_fit` is SameFit(a, b).
bool SameStanding(const v1::Node& a, const v1::Node& b, bool same_fit,
                  const v1::ImageRecord& image) {
  const v1::CachedImageSpec& spec = image.object().spec();
  if (!same_fit && FitNode(a, spec) != FitNode(b, spec)) return false;
  uint64_t h = MatchHash(image);
  return Lists(a, h) == Lists(b, h);
}

void NodeKeys(const v1::State& state, const v1::WatchEvent& w, Keys* keys) {
  const v1::NodeRecord* before = Find(state.nodes(), w.node().name());
  static const v1::Node kAbsent;
  const v1::Node& old_node = before == nullptr ? kAbsent : before->node();
  const v1::Node& new_node = w.type() == v1::DELETED ? kAbsent : w.node();
  bool replaced = before != nullptr && old_node.uid() != new_node.uid();
  // A node its selector picks that comes or goes changes the counts an image that targets no
  // node gives as why (WhyNoNodeFits), even when it stands as an absent node would.
  const v1::Node& present = w.type() == v1::DELETED ? old_node : new_node;
  bool counted = before == nullptr || w.type() == v1::DELETED;
  const bool same_fit = SameFit(old_node, new_node);
  for (const v1::ImageRecord& image : state.images()) {
    if (replaced || !SameStanding(old_node, new_node, same_fit, image) ||
        (counted && CurrentStatus(image).nodes_targeted() == 0 &&
         MatchesSelector(present.labels(), image.object().spec().node_selector()))) {
      keys->Image(state, image.object().name());
    }
  }
}

// An update the pacing pass cannot tell from the pod before it: the same pod, active before and
// after. A drop pod reports several on its way (bound, ContainerCreating, Running), and pacing its
// policy for each only repeated the last pass. The updates that matter still pace it: the pod
// appears or goes, stops counting as active (it ends, or waits on a pull error, which its
// CachedImage's reconcile may then account as a failure that moves the backoff).
bool StaysActive(const v1::PodRecord& before, const v1::WatchEvent& w) {
  const v1::Pod& pod = w.pod();
  bool same = before.pod().uid().empty() || before.pod().uid() == pod.uid();
  return w.type() != v1::DELETED && same && IsActive(before) && IsPulling(pod);
}

// Pod `key` of CachedImage `image`, through the index when there is one.
const v1::PodRecord* FindPod(const v1::State& state, const Index* index, const std::string& image,
                             const std::string& key) {
  return index != nullptr ? index->FindPod(state, image, key) : drop::FindPod(state, image, key);
}

void WatchKeys(const v1::State& state, const Index* index, const v1::WatchEvent& w, Keys* keys) {
  switch (w.object_case()) {
    case v1::WatchEvent::kNode:
      NodeKeys(state, w, keys);
      break;
    case v1::WatchEvent::kCachedImage:
      keys->Image(state, w.cached_image().name());
      keys->policies.insert(w.cached_image().spec().pull_policy_ref());
      break;
    case v1::WatchEvent::kPullPolicy: {
      const std::string& name = w.pull_policy().name();
      keys->policies.insert(name);
      for (const v1::ImageRecord& r : state.images()) {
        if (r.object().spec().pull_policy_ref() == name) keys->images.insert(r.object().name());
      }
      break;
    }
    case v1::WatchEvent::kPod: {
      const v1::PodRecord* r = FindPod(state, index, w.pod().cached_image(), PodKey(w.pod()));
      if (r != nullptr && StaysActive(*r, w)) {
        keys->images.insert(w.pod().cached_image());
        break;
      }
      keys->Image(state, w.pod().cached_image());
      if (r != nullptr) keys->policies.insert(r->policy());
      break;
    }
    default:
      break;
  }
}

bool ListsCachedNodes(const v1::Entry& entry) {
  return entry.has_action() && entry.action().has_patch_status() &&
         entry.action().patch_status().status().cached_nodes_size() > 0;
}

}  // namespace

bool IsDecision(const v1::Entry& e) {
  switch (e.kind_case()) {
    case v1::Entry::kReconcile:
    case v1::Entry::kPacing:
    case v1::Entry::kOutcome:
    case v1::Entry::kAction:
      return true;
    default:
      return false;
  }
}

const v1::Entry& JournalForm(const v1::Entry& entry, v1::Entry* scratch) {
  if (!ListsCachedNodes(entry)) return entry;
  *scratch = entry;
  ToJournalForm(scratch);
  return *scratch;
}

void ToJournalForm(v1::Entry* entry) {
  if (ListsCachedNodes(*entry)) {
    CompactStatus(entry->mutable_action()->mutable_patch_status()->mutable_status());
  }
}

std::vector<v1::Key> TouchedKeys(const v1::State& state, const v1::Entry& input,
                                 const Index* index) {
  Keys keys;
  switch (input.kind_case()) {
    case v1::Entry::kWatch:
      WatchKeys(state, index, input.watch(), &keys);
      break;
    case v1::Entry::kRelistEnd:
      keys.All(state);
      break;
    case v1::Entry::kTimer: {
      const v1::Key& k = input.timer().key();
      if (k.kind() == v1::KIND_CACHED_IMAGE) keys.images.insert(k.name());
      if (k.kind() == v1::KIND_PULL_POLICY) keys.policies.insert(k.name());
      break;
    }
    case v1::Entry::kActionResult: {
      const v1::ActionResult& r = input.action_result();
      if (r.kind() == v1::ACTION_PATCH_STATUS) keys.images.insert(r.target());
      if (r.kind() == v1::ACTION_CREATE_POD || r.kind() == v1::ACTION_DELETE_POD) {
        if (const v1::PodRecord* pod = FindPod(state, index, r.cached_image(),
                                               PodKey(r.cached_image(), r.node(), r.target()))) {
          keys.Image(state, pod->pod().cached_image());
          keys.policies.insert(pod->policy());
        }
      }
      break;
    }
    default:
      break;
  }
  std::vector<v1::Key> out;
  for (const std::string& name : keys.images)
    out.push_back(MakeKey(v1::KIND_CACHED_IMAGE, name));
  for (const std::string& name : keys.policies)
    out.push_back(MakeKey(v1::KIND_PULL_POLICY, name));
  return out;
}

std::vector<v1::Entry> Step(const v1::Entry& input, v1::State* state, Index* index,
                            DecisionForm form) {
  std::vector<v1::Key> keys = TouchedKeys(*state, input, index);
  Apply(input, state, index);
  std::vector<v1::Entry> out;
  if (!Synced(*state)) return out;  // a partial view decides nothing

  uint64_t seq = input.seq();
  const int64_t now = input.time_ms();
  auto record = [&](std::vector<v1::Entry> decisions, uint64_t reconcile_id) {
    for (v1::Entry& d : decisions) {
      d.set_seq(++seq);
      d.set_time_ms(now);
      d.set_reconcile_id(reconcile_id);
      Apply(d, state, index);
      out.push_back(std::move(d));
    }
  };
  for (const v1::Key& key : keys) {
    // The ReconcileStarted entry is written only when the reconcile decides something; its
    // sequence number is reserved first so that it precedes its decisions.
    uint64_t id = seq + 1;
    size_t at = out.size();
    ++seq;
    if (key.kind() == v1::KIND_CACHED_IMAGE) {
      record(AccountPulls(*state, key.name(), now, index), id);
      record(ReconcileImage(*state, key.name(), now, index, form), id);
    } else {
      std::vector<v1::Entry> paced = PacePolicy(*state, key.name(), now, index);
      // A wait recorded for an image moves its status's nextPullTime (see StatusBesidesNodes)
      // when it, or the wait it replaces, is on the least delay: the image's reconcile, which
      // ran before this pass if at all, runs again.
      std::vector<std::string> waited;
      for (const v1::Entry& d : paced) {
        if (!d.has_pacing() || d.pacing().verdict() == v1::START) continue;
        const v1::ImageRecord* image = Find(state->images(), d.pacing().cached_image());
        if (image != nullptr && LeastDelayEnd(image->last_wait()) != LeastDelayEnd(d.pacing())) {
          waited.push_back(d.pacing().cached_image());
        }
      }
      record(std::move(paced), id);
      for (const std::string& image : waited)
        record(ReconcileImage(*state, image, now, index, form), id);
    }
    if (out.size() == at) {
      --seq;  // nothing decided: give the number back
      continue;
    }
    v1::Entry started;
    started.set_seq(id);
    started.set_time_ms(now);
    started.set_reconcile_id(id);
    *started.mutable_reconcile()->mutable_key() = key;
    started.mutable_reconcile()->set_trigger_seq(input.seq());
    // Folding a ReconcileStarted changes nothing but last_seq, which its decisions have moved on.
    out.insert(out.begin() + static_cast<long>(at), std::move(started));
  }
  return out;
}

}  // namespace drop
