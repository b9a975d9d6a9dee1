#include "core/reconcile.h"

#include <algorithm>
#include <limits>

#include "core/duration.h"
#include "core/hash.h"
#include "core/image_ref.h"
#include "core/image_view.h"
#include "core/index.h"
#include "core/pacing.h"
#include "core/scheduling.h"
#include "core/state.h"

namespace drop {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

v1::Entry Event(const v1::CachedImage& object, const char* type, const char* reason,
                std::string message) {
  return MakeEvent(v1::KIND_CACHED_IMAGE, object.name(), object.uid(), type, reason,
                   std::move(message));
}

v1::Entry Delete(const v1::State& state, const v1::PodRecord& r, const char* reason) {
  v1::Entry e;
  v1::DeletePod* d = e.mutable_action()->mutable_delete_pod();
  d->set_namespace_(state.config().namespace_());
  d->set_name(r.pod().name());
  d->set_uid(r.pod().uid());
  d->set_reason(reason);
  d->set_cached_image(r.pod().cached_image());
  d->set_node(r.pod().node());
  return e;
}

// When the pull began, by drop's clock if drop created the pod, else by the API server's.
int64_t StartOf(const v1::PodRecord& r) {
  return r.issued_ms() > 0 ? r.issued_ms() : r.pod().creation_time_ms();
}

// A pod drop may delete: the watch has shown it (its uid is the delete's precondition), and no
// delete of it is under way.
bool Deletable(const v1::PodRecord& r) {
  return !r.delete_issued() && !r.pod().uid().empty();
}

const v1::Condition* ReadyCondition(const v1::CachedImageStatus& status) {
  for (const v1::Condition& c : status.conditions()) {
    if (c.type() == "Ready") return &c;
  }
  return nullptr;
}

}  // namespace

bool Superseded(const v1::ImageRecord& image, const v1::PodRecord& r) {
  if (r.pod().image() == image.object().spec().image()) return false;  // the common case
  Result<ImageRef> ref = ParseImageRef(r.pod().image());
  return !ref.ok() || ref->MatchKey() != image.image_key();
}

std::vector<v1::Entry> AccountPulls(const v1::State& state, std::string_view name, int64_t now,
                                    const Index* index) {
  std::vector<v1::Entry> out;
  const v1::ImageRecord* image = Find(state.images(), name);
  const v1::PullPolicySpec* spec = nullptr;
  if (image != nullptr) spec = FindPolicySpec(state, image->object().spec().pull_policy_ref());
  const v1::PullPolicySpec& policy = spec != nullptr ? *spec : DefaultPolicySpec();
  // One message for every pod visited: most are still pulling and name no outcome, and a
  // message's construction and destruction cost more than its Clear.
  v1::PullOutcome o;
  auto account = [&](const v1::PodRecord& r) {
    const v1::Pod& pod = r.pod();
    o.Clear();
    bool delete_pod = false;
    if (!r.create_error().empty()) {
      o.set_outcome(v1::PULL_FAILED);
      o.set_reason("CreateFailed");
      o.set_message("creating pod " + pod.name() + " failed: " + r.create_error_reason() + ": " +
                    r.create_error());
    } else if (image == nullptr || Superseded(*image, r)) {
      return;  // not a pull of the current image: ReconcileImage deletes it
    } else if (pod.phase() == v1::POD_SUCCEEDED) {
      o.set_outcome(v1::PULL_SUCCEEDED);
      o.set_reason("Pulled");
    } else if (pod.phase() == v1::POD_FAILED) {
      o.set_outcome(v1::PULL_FAILED);
      o.set_reason(!pod.terminated_reason().empty() ? pod.terminated_reason() : "PodFailed");
      if (pod.terminated_reason().empty() && pod.exit_code() == 0) {
        // No container ended: the pod went before its pull did (deleted, evicted, node lost).
        o.set_message("the pod failed before its container ran" +
                      (pod.waiting_reason().empty() ? "" : " (" + pod.waiting_reason() + ")") +
                      "; was it deleted or evicted, or its node lost?");
      } else {
        o.set_message("exit code " + std::to_string(pod.exit_code()) +
                      (pod.terminated_message().empty() ? "" : ": " + pod.terminated_message()));
      }
    } else if (IsImagePullError(pod.waiting_reason()) && r.backoff_reports() >= 2) {
      o.set_outcome(v1::PULL_FAILED);
      o.set_reason(pod.waiting_reason());
      o.set_message(pod.waiting_message());
      delete_pod = true;
    } else if (StartOf(r) > 0 && now >= StartOf(r) + policy.pull_timeout_ms()) {
      o.set_outcome(v1::PULL_FAILED);
      o.set_reason("PullTimeout");
      std::string waiting =
          pod.waiting_reason().empty()
              ? ""
              : " (" + pod.waiting_reason() +
                    (pod.waiting_message().empty() ? "" : ": " + pod.waiting_message()) + ")";
      o.set_message("not finished within pullTimeout " + FormatDuration(policy.pull_timeout_ms()) +
                    waiting);
      delete_pod = true;
    } else {
      return;  // still pulling
    }
    o.set_cached_image(std::string(name));
    o.set_node(pod.node());
    o.set_pod(pod.name());
    int64_t start = StartOf(r);
    int64_t end = r.finished_ms() > 0 ? r.finished_ms() : now;
    o.set_duration_ms(start > 0 && end > start ? end - start : 0);
    out.push_back(v1::Entry());
    *out.back().mutable_outcome() = o;
    if (image != nullptr) {
      const v1::CachedImage& object = image->object();
      if (o.outcome() == v1::PULL_SUCCEEDED) {
        out.push_back(Event(object, "Normal", "PullSucceeded",
                            "Pulled " + object.spec().image() + " on node " + pod.node() + " in " +
                                FormatDuration(o.duration_ms())));
      } else {
        out.push_back(Event(object, "Warning", "PullFailed",
                            "Pull of " + object.spec().image() + " on node " + pod.node() +
                                " failed: " + o.reason() + (o.message().empty() ? "" : ": ") +
                                o.message()));
      }
    }
    if (delete_pod && Deletable(r) && now >= r.delete_retry_ms()) {
      out.push_back(Delete(state, r, o.reason().c_str()));
    }
  };
  FindUnaccounted(state, index != nullptr ? index->Standing(name) : nullptr, name,
                  [&](const v1::PodRecord& r) {
                    account(r);
                    return false;
                  });
  return out;
}

uint64_t CachedNodesDigest(const google::protobuf::RepeatedPtrField<std::string>& nodes) {
  uint64_t h = kEmptyCachedNodesDigest;
  for (const std::string& node : nodes)
    h = CachedNodesDigestStep(h, node);
  return h;
}

void CompactStatus(v1::CachedImageStatus* status) {
  if (status->cached_nodes_size() == 0 && status->cached_nodes_digest() != 0) return;  // already
  status->set_cached_nodes_digest(CachedNodesDigest(status->cached_nodes()));
  status->clear_cached_nodes();
}

const v1::CachedImageStatus& CurrentStatus(const v1::ImageRecord& image) {
  return image.has_status_issued() ? image.status_issued() : image.object().status();
}

namespace {

// How a CachedImage stands on the nodes, as a reconcile reads it: from the index when there is
// one, else from one walk over the nodes.
class Census {
 public:
  Census(const ImageView& view, const ImageStanding* standing) : standing_(standing) {
    if (standing != nullptr) {
      targeted_ = standing->targeted;
      cached_ = static_cast<int>(standing->cached.size());
      has_candidate_ = !standing->open.empty() || !standing->open_failed.empty();
      return;
    }
    view.ForEachNode([&](const NodeFacts& f) {
      if (f.fit != Fit::kTargeted) return true;
      ++targeted_;
      if (f.cached) {
        cached_names_.push_back(&f.node->name());
      } else {
        wanting_.push_back(f.node->name());
        has_candidate_ = has_candidate_ || f.pod == nullptr;
      }
      return true;
    });
    cached_ = static_cast<int>(cached_names_.size());
  }

  int targeted() const { return targeted_; }
  int cached() const { return cached_; }
  // Some targeted node lacks the image and has no pod of it.
  bool has_candidate() const { return has_candidate_; }
  // A targeted node that lacks the image.
  bool Wants(const std::string& node) const {
    if (standing_ != nullptr) {
      auto it = standing_->nodes.find(node);
      return it != standing_->nodes.end() && it->second.targeted && !it->second.cached;
    }
    return std::binary_search(wanting_.begin(), wanting_.end(), std::string_view(node));
  }
  // CachedNodesDigest of the nodes that hold it.
  uint64_t CachedDigest() const {
    if (standing_ != nullptr) return standing_->CachedDigest();
    uint64_t h = kEmptyCachedNodesDigest;
    for (const std::string* node : cached_names_)
      h = CachedNodesDigestStep(h, *node);
    return h;
  }
  // Lists the nodes that hold it in status.cachedNodes.
  void ListCached(v1::CachedImageStatus* s) const {
    s->mutable_cached_nodes()->Reserve(cached_);
    if (standing_ != nullptr) {
      for (const std::string* node : standing_->cached)
        s->add_cached_nodes(*node);
      return;
    }
    for (const std::string* node : cached_names_)
      s->add_cached_nodes(*node);
  }

 private:
  const ImageStanding* standing_;
  int targeted_ = 0, cached_ = 0;
  bool has_candidate_ = false;
  std::vector<const std::string*> cached_names_;
  std::vector<std::string_view> wanting_;
};

// Why the Ready condition is what it is; its reason names it (ReasonName).
enum class Why {
  kInvalidSpec,
  kPullPolicyNotFound,
  kNoMatchingNodes,
  kAllNodesCached,
  kDegraded,
  kPulling,
};

// The Ready condition's reason, as the user guide names it.
const char* ReasonName(Why why) {
  switch (why) {
    case Why::kInvalidSpec:
      return "InvalidSpec";
    case Why::kPullPolicyNotFound:
      return "PullPolicyNotFound";
    case Why::kNoMatchingNodes:
      return "NoMatchingNodes";
    case Why::kAllNodesCached:
      return "AllNodesCached";
    case Why::kDegraded:
      return "Degraded";
    case Why::kPulling:
      return "Pulling";
  }
  return "";
}

// What the desired status says at a glance: its phase and its Ready condition's status and reason.
// Whether a write is due follows from these and the counts, without the rest of the status.
struct Headline {
  const char* phase;
  const char* status;
  Why why;
  const char* reason() const { return ReasonName(why); }
};

// When the least delay between creations under its policy lets the image pull, if the last
// pacing pass of that policy held it there; 0 otherwise.
int64_t MinDelayUntil(const ImageView& view) {
  const v1::ImageRecord& image = view.record();
  const v1::PacingDecision& wait = image.last_wait();
  if (view.policy() == nullptr || wait.policy() != image.object().spec().pull_policy_ref())
    return 0;
  return LeastDelayEnd(wait);
}

Headline HeadlineOf(const ImageView& view, const Census& census) {
  const v1::ImageRecord& image = view.record();
  if (!view.spec_error().empty()) return {"Pending", "False", Why::kInvalidSpec};
  if (view.policy() == nullptr) return {"Pending", "False", Why::kPullPolicyNotFound};
  if (census.targeted() == 0) return {"Pending", "False", Why::kNoMatchingNodes};
  if (census.cached() == census.targeted()) return {"Ready", "True", Why::kAllNodesCached};
  if (image.consecutive_failures() >= view.effective_policy().backoff().max_consecutive_failures())
    return {"Degraded", "False", Why::kDegraded};
  return {image.last_start_ms() > 0 ? "Pulling" : "Pending", "False", Why::kPulling};
}

// The desired status but for its list of nodes (see Census::ListCached and CachedDigest), whose
// phase and Ready condition `head` (HeadlineOf the same view and census) has decided.
v1::CachedImageStatus StatusBesidesNodes(const v1::State& state, const ImageView& view,
                                         const Census& census, const Headline& head, int64_t now) {
  const v1::ImageRecord& image = view.record();
  const v1::CachedImage& object = image.object();
  v1::CachedImageStatus s;
  s.set_observed_generation(object.generation());
  s.set_nodes_targeted(census.targeted());
  s.set_nodes_ready(census.cached());

  // The latest failures, listed by node.
  std::vector<const v1::FailedNode*> failures;
  for (const v1::FailedNode& f : image.failures())
    failures.push_back(&f);
  std::stable_sort(failures.begin(), failures.end(), [](auto* a, auto* b) {
    return a->last_failure_time_ms() > b->last_failure_time_ms();
  });
  if (failures.size() > kMaxFailedNodesInStatus) failures.resize(kMaxFailedNodesInStatus);
  std::sort(failures.begin(), failures.end(),
            [](auto* a, auto* b) { return a->node() < b->node(); });
  for (const v1::FailedNode* f : failures)
    *s.add_failed_nodes() = *f;

  s.set_consecutive_failures(image.consecutive_failures());
  const v1::PullPolicySpec& policy = view.effective_policy();
  // When pacing or backoff next lets it pull: its backoff's end, or the end of the policy's least
  // delay between creations when the last pacing pass held it there. (Behind another image's
  // turn, or waiting for a slot, it has no time to give.)
  const int64_t until = std::max(BackoffUntil(policy.backoff(), image), MinDelayUntil(view));
  if (until > now && s.nodes_ready() < s.nodes_targeted()) s.set_next_pull_time_ms(until);

  v1::Condition c;
  c.set_type("Ready");
  c.set_observed_generation(object.generation());
  s.set_phase(head.phase);
  c.set_status(head.status);
  c.set_reason(head.reason());
  const std::string& policy_ref = object.spec().pull_policy_ref();
  std::string held = std::to_string(s.nodes_ready()) + " of " + std::to_string(s.nodes_targeted()) +
                     " targeted nodes hold the image";
  switch (head.why) {
    case Why::kInvalidSpec:
      c.set_message(view.spec_error());
      break;
    case Why::kPullPolicyNotFound:
      c.set_message("CachedImage " + object.name() + ": pullPolicyRef '" + policy_ref +
                    "' not found; create PullPolicy " + policy_ref + " or remove the field");
      break;
    case Why::kNoMatchingNodes:
      c.set_message("No Ready, schedulable node matches spec.nodeSelector and spec.tolerations: " +
                    WhyNoNodeFits(state, object.spec()));
      break;
    case Why::kAllNodesCached:
      c.set_message("All " + std::to_string(s.nodes_targeted()) + " targeted nodes hold " +
                    object.spec().image());
      break;
    case Why::kDegraded: {
      const v1::FailedNode* last = nullptr;
      for (const v1::FailedNode& f : image.failures()) {
        if (last == nullptr || f.last_failure_time_ms() > last->last_failure_time_ms()) last = &f;
      }
      std::string detail =
          last == nullptr ? "" : " (last on node " + last->node() + ": " + last->reason() + ")";
      c.set_message(std::to_string(image.consecutive_failures()) + " consecutive pull failures" +
                    detail + "; " + held + "; retrying with backoff, check the drop pods' events");
      break;
    }
    case Why::kPulling:
      c.set_message(held + "; pulls paced by " + PolicyDisplayName(policy_ref));
      break;
  }
  // lastTransitionTime moves only when the condition's status does.
  const v1::Condition* before = ReadyCondition(CurrentStatus(image));
  bool transition = before == nullptr || before->status() != c.status();
  c.set_last_transition_time_ms(transition ? now : before->last_transition_time_ms());
  *s.add_conditions() = c;
  return s;
}

// Whether the desired status, but for its node list, differs from the current one, which is
// compact: equal statuses serialize to equal bytes (far cheaper than a reflective comparison), and
// the node lists are compared through their digests.
bool Differs(v1::CachedImageStatus* desired, const v1::CachedImageStatus& current,
             const Census& census) {
  desired->set_cached_nodes_digest(current.cached_nodes_digest());
  bool same = desired->SerializeAsString() == current.SerializeAsString();
  desired->clear_cached_nodes_digest();
  return !same || census.CachedDigest() != current.cached_nodes_digest();
}

}  // namespace

v1::CachedImageStatus DesiredStatus(const v1::State& state, const ImageView& view, int64_t now) {
  Census census(view, nullptr);
  v1::CachedImageStatus s = StatusBesidesNodes(state, view, census, HeadlineOf(view, census), now);
  census.ListCached(&s);
  return s;
}

std::vector<v1::Entry> ReconcileImage(const v1::State& state, std::string_view name, int64_t now,
                                      const Index* index, DecisionForm form) {
  std::vector<v1::Entry> out;
  const v1::Key key = MakeKey(v1::KIND_CACHED_IMAGE, name);
  int64_t wake = kNever;
  // Deletes pod `r`, or wakes when a delete that failed may be tried again.
  auto remove = [&](const v1::PodRecord& r, const char* reason) {
    if (!Deletable(r)) return;
    if (now < r.delete_retry_ms()) {
      wake = std::min(wake, r.delete_retry_ms());
    } else {
      out.push_back(Delete(state, r, reason));
    }
  };
  const v1::ImageRecord* image = Find(state.images(), name);
  if (image == nullptr) {
    // Garbage collection removes pods owned by a deleted CachedImage; this covers pods it cannot
    // (an owner reference lost, a pod made by hand with drop's labels).
    for (const v1::PodRecord& pod : PodsOf(state, name))
      remove(pod, "Orphaned");
    RequeueAt(state, key, wake, &out);
    return out;
  }
  const v1::CachedImage& object = image->object();
  const ImageStanding* standing = index != nullptr ? index->Standing(name) : nullptr;
  ImageView view(state, *image, standing != nullptr ? &standing->spec_error : nullptr);
  const v1::PullPolicySpec& policy = view.effective_policy();

  const Census census(view, standing);
  const bool has_candidate = census.has_candidate();
  bool backoff_passed = now >= BackoffUntil(policy.backoff(), *image);

  const int64_t ttl = policy.pod_ttl_after_finished_ms();
  auto visit = [&](const v1::PodRecord* r) {
    const v1::Pod& pod = r->pod();
    if (r->delete_issued() || !r->create_error().empty()) return;
    if (Superseded(*image, *r)) {
      remove(*r, "Superseded");
      return;
    }
    if (r->accounted()) {
      int64_t expires = r->finished_ms() + ttl;
      bool failed = pod.phase() == v1::POD_FAILED;
      // A finished pod holds its node's pod name. On a node that lacks the image it makes way
      // for the next pull: at once after a success that no longer counts (the node was
      // replaced), after a failure once the backoff has passed and no other node can pull.
      bool make_way = census.Wants(pod.node()) && (!failed || (backoff_passed && !has_candidate));
      if (now >= expires) {
        remove(*r, "TTLExpired");
      } else if (make_way) {
        remove(*r, "Retry");
      } else {
        wake = std::min(wake, expires);
        if (failed && !backoff_passed)
          wake = std::min(wake, BackoffUntil(policy.backoff(), *image));
      }
    } else if (StartOf(*r) > 0) {
      wake = std::min(wake, StartOf(*r) + policy.pull_timeout_ms());
    }
  };
  if (standing == nullptr) {
    for (const v1::PodRecord* r : view.pods())
      visit(r);
  } else {
    // Visited, in pod order: the pods that may be deleted or have not finished. Every other one
    // finished within its TTL on a node that does not want it back, and only sets a deadline:
    // the earliest of those comes first in the index's order.
    // Each set holds the index's one entry of a pod: the same pod is the same pointer.
    std::vector<const ImageStanding::PodEntry*> pods;
    for (const auto* set : {&standing->superseded, &standing->unaccounted, &standing->in_the_way})
      pods.insert(pods.end(), set->begin(), set->end());
    const std::pair<int64_t, const ImageStanding::PodEntry*> unexpired{now - ttl + 1, nullptr};
    const auto fresh = standing->finished.lower_bound(unexpired);
    for (auto it = standing->finished.begin(); it != fresh; ++it)
      pods.push_back(it->second);
    std::sort(pods.begin(), pods.end(), ImageStanding::ByKey());
    pods.erase(std::unique(pods.begin(), pods.end()), pods.end());
    for (const ImageStanding::PodEntry* pod : pods)
      visit(pod->second.record);
    auto waiting = [&](const std::pair<int64_t, const ImageStanding::PodEntry*>& p) {
      return !standing->in_the_way.contains(p.second);
    };
    if (auto it = std::find_if(fresh, standing->finished.end(), waiting);
        it != standing->finished.end()) {
      wake = std::min(wake, it->first + ttl);
    }
    if (!backoff_passed &&
        std::any_of(standing->failed.lower_bound(unexpired), standing->failed.end(), waiting)) {
      wake = std::min(wake, BackoffUntil(policy.backoff(), *image));
    }
  }

  // The status shows a least-delay wait's end as nextPullTime: at that end it goes, unless a pass
  // holds the image again (which reconciles it at once).
  if (const int64_t until = MinDelayUntil(view);
      until > now && census.cached() < census.targeted()) {
    wake = std::min(wake, until);
  }
  if (!object.deleting()) {
    const Headline head = HeadlineOf(view, census);
    const v1::CachedImageStatus& current = CurrentStatus(*image);
    const v1::Condition* before = ReadyCondition(current);
    bool transition = before == nullptr || before->status() != head.status;
    // Progress alone (one more node cached) is written at most every kStatusMinIntervalMs; a
    // change of phase, condition or generation at once. A 5,000-node status rewritten on every
    // pull would load etcd and the journal for nothing a reader can see.
    bool significant = before == nullptr || transition || before->reason() != head.reason() ||
                       current.phase() != head.phase ||
                       object.generation() != current.observed_generation();
    int64_t progress_at = image->status_written_ms() + kStatusMinIntervalMs;
    // The counts go first: during a rollout they differ on most passes, and a write then waits
    // its interval (or a retry), which the headline alone tells. The rest of the status is built
    // only when it is written or when all the counts are equal.
    const bool counts_differ =
        census.cached() != current.nodes_ready() || census.targeted() != current.nodes_targeted();
    const int64_t wait = now < image->status_retry_ms()      ? image->status_retry_ms()
                         : !significant && now < progress_at ? progress_at
                                                             : kNever;
    if (counts_differ && wait != kNever) {
      wake = std::min(wake, wait);
    } else if (v1::CachedImageStatus desired = StatusBesidesNodes(state, view, census, head, now);
               counts_differ || Differs(&desired, current, census)) {
      const v1::Condition* after = ReadyCondition(desired);
      if (wait != kNever) {
        wake = std::min(wake, wait);
      } else {
        if (after->status() == "True" && transition) {
          out.push_back(Event(object, "Normal", "Ready", after->message()));
        }
        if (after->reason() == "Degraded" &&
            (before == nullptr || before->reason() != "Degraded")) {
          out.push_back(Event(object, "Warning", "Degraded", after->message()));
        }
        if (form == DecisionForm::kFull) {
          census.ListCached(&desired);
        } else if (census.cached() > 0) {  // an empty list stays as it is (ToJournalForm)
          desired.set_cached_nodes_digest(census.CachedDigest());
        }
        v1::Entry patch;
        v1::PatchStatus* p = patch.mutable_action()->mutable_patch_status();
        p->set_cached_image(object.name());
        p->set_uid(object.uid());
        p->set_resource_version(object.resource_version());
        *p->mutable_status() = std::move(desired);
        out.push_back(std::move(patch));
      }
    }
  }

  RequeueAt(state, key, wake, &out);
  return out;
}

}  // namespace drop
