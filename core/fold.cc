#include "core/fold.h"

#include <algorithm>

#include "core/image_ref.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/state.h"

namespace drop {
namespace {

bool Terminal(v1::PodPhase phase) {
  return phase == v1::POD_SUCCEEDED || phase == v1::POD_FAILED;
}

// The image's content key, or "" when the reference does not parse (the spec is invalid).
std::string ImageKey(const std::string& image) {
  Result<ImageRef> ref = ParseImageRef(image);
  return ref.ok() ? ref->MatchKey() : "";
}

uint64_t RelistMark(const v1::State& state, v1::ObjectKind kind) {
  for (const v1::RelistProgress& p : state.relisting()) {
    if (p.kind() == kind) return p.begin_seq();
  }
  return 0;
}

// A node that is gone (or replaced by another machine of the same name) holds nothing drop pulled.
void ForgetNode(v1::State* state, const std::string& node) {
  for (v1::ImageRecord& image : *state->mutable_images()) {
    Erase(image.mutable_pulled_nodes(), node);
    Erase(image.mutable_failures(), node);
  }
}

void ApplyNode(const v1::WatchEvent& w, v1::State* state, uint64_t mark) {
  const v1::Node& node = w.node();
  if (w.type() == v1::DELETED) {
    Erase(state->mutable_nodes(), node.name());
    ForgetNode(state, node.name());
    return;
  }
  v1::NodeRecord* r = Upsert(state->mutable_nodes(), node.name());
  if (!r->node().uid().empty() && r->node().uid() != node.uid()) ForgetNode(state, node.name());
  *r->mutable_node() = node;
  if (mark != 0) r->set_relist_mark(mark);
}

void ApplyCachedImage(const v1::WatchEvent& w, v1::State* state, uint64_t mark) {
  const v1::CachedImage& object = w.cached_image();
  if (w.type() == v1::DELETED) {
    Erase(state->mutable_images(), object.name());
    return;
  }
  bool inserted = false;
  v1::ImageRecord* r = Upsert(state->mutable_images(), object.name(), &inserted);
  if (!inserted && r->object().uid() != object.uid()) {
    r->Clear();  // a new object under an old name starts from nothing
    inserted = true;
  }
  std::string key = ImageKey(object.spec().image());
  if (inserted || key != r->image_key()) {
    // A new image: nothing is cached yet and its failures are its own.
    r->clear_pulled_nodes();
    r->clear_failures();
    r->set_consecutive_failures(0);
    r->set_last_failure_ms(0);
    r->set_last_start_ms(0);
    r->set_image_key(key);
  }
  // Moved to another PullPolicy, its pods count against that one: the limit holds "across all
  // CachedImages using the policy" (DESIGN.md section 1), pulls already under way included. So do
  // pods recorded before their CachedImage (a relist can list them first): they had none.
  const std::string& policy = object.spec().pull_policy_ref();
  if (inserted || r->object().spec().pull_policy_ref() != policy) {
    if (v1::PodGroup* group = FindMutable(state->mutable_pod_groups(), object.name())) {
      for (v1::PodRecord& pod : *group->mutable_pods())
        pod.set_policy(policy);
    }
  }
  *r->mutable_object() = object;
  if (mark != 0) r->set_relist_mark(mark);
}

void ApplyPullPolicy(const v1::WatchEvent& w, v1::State* state, uint64_t mark) {
  const v1::PullPolicy& object = w.pull_policy();
  if (w.type() == v1::DELETED) {
    Erase(state->mutable_policies(), object.name());
    return;
  }
  bool inserted = false;
  v1::PolicyRecord* r = Upsert(state->mutable_policies(), object.name(), &inserted);
  // A new object under the old name (deleted while drop did not watch) has not been warned of.
  if (r->object().uid() != object.uid()) r->clear_warned_generation();
  *r->mutable_object() = object;
  if (mark != 0) r->set_relist_mark(mark);
}

void ApplyDiscoveryPolicy(const v1::WatchEvent& w, v1::State* state, uint64_t mark) {
  const v1::DiscoveryPolicy& object = w.discovery_policy();
  if (w.type() == v1::DELETED) {
    Erase(state->mutable_discovery(), object.name());
    return;
  }
  v1::DiscoveryRecord* r = Upsert(state->mutable_discovery(), object.name());
  *r->mutable_object() = object;
  if (mark != 0) r->set_relist_mark(mark);
}

void ApplyPod(const v1::WatchEvent& w, int64_t time, v1::State* state, uint64_t mark) {
  const v1::Pod& pod = w.pod();
  std::string key = PodKey(pod);
  if (w.type() == v1::DELETED) {
    ErasePod(state, pod.cached_image(), key);
    return;
  }
  bool inserted = false;
  v1::PodRecord* r = UpsertPod(state, pod.cached_image(), key, &inserted);
  bool replaced = !inserted && !r->pod().uid().empty() && r->pod().uid() != pod.uid();
  if (inserted || replaced) {
    // A pod drop did not create in this life: it counts against its CachedImage's policy.
    r->Clear();
    r->set_key(key);
    const v1::ImageRecord* image = Find(state->images(), pod.cached_image());
    if (image != nullptr) r->set_policy(image->object().spec().pull_policy_ref());
  }
  const std::string& before = r->pod().waiting_reason();
  if (pod.waiting_reason() == "ImagePullBackOff" && before != "ImagePullBackOff") {
    r->set_backoff_reports(r->backoff_reports() + 1);
  }
  if (Terminal(pod.phase()) && r->finished_ms() == 0) {
    // Found ended by a relist, the pod ended while drop was not watching (stopped, or between two
    // watches): the kubelet's finishedAt tells when, where the relist's own time would add the
    // gap to the pull's duration and its TTL. finishedAt is the node's clock cut to the second,
    // so it may read before drop issued the pod: it is kept between that and the relist.
    bool late = w.type() == v1::LISTED && pod.finish_time_ms() > 0;
    int64_t start = r->issued_ms() > 0 ? r->issued_ms() : pod.creation_time_ms();
    r->set_finished_ms(late ? std::clamp(pod.finish_time_ms(), std::min(start, time), time) : time);
  }
  *r->mutable_pod() = pod;
  r->set_observed(true);
  if (mark != 0) r->set_relist_mark(mark);
}

void ApplyWatch(const v1::Entry& e, v1::State* state) {
  const v1::WatchEvent& w = e.watch();
  auto mark = [&](v1::ObjectKind kind) {
    return w.type() == v1::LISTED ? RelistMark(*state, kind) : 0;
  };
  switch (w.object_case()) {
    case v1::WatchEvent::kNode:
      ApplyNode(w, state, mark(v1::KIND_NODE));
      break;
    case v1::WatchEvent::kCachedImage:
      ApplyCachedImage(w, state, mark(v1::KIND_CACHED_IMAGE));
      break;
    case v1::WatchEvent::kPullPolicy:
      ApplyPullPolicy(w, state, mark(v1::KIND_PULL_POLICY));
      break;
    case v1::WatchEvent::kDiscoveryPolicy:
      ApplyDiscoveryPolicy(w, state, mark(v1::KIND_DISCOVERY_POLICY));
      break;
    case v1::WatchEvent::kPod:
      ApplyPod(w, e.time_ms(), state, mark(v1::KIND_POD));
      break;
    case v1::WatchEvent::OBJECT_NOT_SET:
      break;
  }
}

// Erases the records a relist did not return: they were deleted while drop was not watching.
template <typename T, typename Gone>
void Sweep(google::protobuf::RepeatedPtrField<T>* list, uint64_t begin, Gone gone) {
  for (int i = list->size() - 1; i >= 0; --i) {
    if (gone(list->Get(i), begin)) list->erase(list->begin() + i);
  }
}

void ApplyRelistEnd(const v1::RelistEnd& end, v1::State* state) {
  uint64_t begin = RelistMark(*state, end.kind());
  if (begin == 0) return;  // no matching begin: nothing to sweep
  auto unlisted = [](const auto& r, uint64_t b) { return r.relist_mark() < b; };
  switch (end.kind()) {
    case v1::KIND_NODE: {
      std::vector<std::string> gone;
      for (const v1::NodeRecord& r : state->nodes()) {
        if (unlisted(r, begin)) gone.push_back(r.node().name());
      }
      for (const std::string& name : gone) {
        Erase(state->mutable_nodes(), name);
        ForgetNode(state, name);
      }
      break;
    }
    case v1::KIND_CACHED_IMAGE:
      Sweep(state->mutable_images(), begin, unlisted);
      break;
    case v1::KIND_PULL_POLICY:
      Sweep(state->mutable_policies(), begin, unlisted);
      break;
    case v1::KIND_DISCOVERY_POLICY:
      Sweep(state->mutable_discovery(), begin, unlisted);
      break;
    case v1::KIND_POD:
      // A create still in flight may land after the list was served: keep its record.
      for (v1::PodGroup& group : *state->mutable_pod_groups()) {
        Sweep(group.mutable_pods(), begin, [](const v1::PodRecord& r, uint64_t b) {
          return r.relist_mark() < b && !r.create_pending();
        });
      }
      Sweep(state->mutable_pod_groups(), begin,
            [](const v1::PodGroup& g, uint64_t) { return g.pods().empty(); });
      break;
    default:
      break;
  }
  auto* relisting = state->mutable_relisting();
  for (int i = 0; i < relisting->size(); ++i) {
    if (relisting->Get(i).kind() == end.kind()) {
      relisting->erase(relisting->begin() + i);
      break;
    }
  }
  auto* synced = state->mutable_synced();
  if (std::find(synced->begin(), synced->end(), end.kind()) == synced->end()) {
    synced->Add(end.kind());
    std::sort(synced->begin(), synced->end());
  }
}

void ApplyRelistBegin(const v1::Entry& e, v1::State* state) {
  for (v1::RelistProgress& p : *state->mutable_relisting()) {
    if (p.kind() == e.relist_begin().kind()) {
      p.set_begin_seq(e.seq());
      return;
    }
  }
  v1::RelistProgress* p = state->add_relisting();
  p->set_kind(e.relist_begin().kind());
  p->set_begin_seq(e.seq());
}

void ApplyActionResult(const v1::Entry& e, v1::State* state) {
  const v1::ActionResult& r = e.action_result();
  const std::string key = PodKey(r.cached_image(), r.node(), r.target());
  switch (r.kind()) {
    case v1::ACTION_CREATE_POD: {
      v1::PodRecord* pod = FindPodMutable(state, r.cached_image(), key);
      if (pod == nullptr) return;
      pod->set_create_pending(false);
      // A create whose pod the watch has shown made it, whatever its answer: one that timed out
      // (no response) may have reached the server all the same.
      if (r.ok() || r.reason() == "AlreadyExists" || pod->observed()) {
        if (pod->pod().uid().empty()) pod->mutable_pod()->set_uid(r.uid());
      } else {
        pod->set_create_error(r.message().empty() ? "no message" : r.message());
        pod->set_create_error_reason(r.reason().empty() ? "HTTP " + std::to_string(r.http_code())
                                                        : r.reason());
      }
      return;
    }
    case v1::ACTION_DELETE_POD: {
      if (r.ok()) return;  // the watch reports the pod gone
      if (r.reason() == "NotFound") {
        ErasePod(state, r.cached_image(), key);
      } else if (v1::PodRecord* pod = FindPodMutable(state, r.cached_image(), key)) {
        // A later reconcile tries again, after a pause that doubles with each refusal: a delete
        // the server keeps refusing (the uid precondition of a pod replaced under its name, RBAC
        // without delete) is not sent again at once, in a loop as fast as the server answers.
        pod->set_delete_issued(false);
        pod->set_delete_refusals(pod->delete_refusals() + 1);
        pod->set_delete_retry_ms(e.time_ms() + DeleteRetryDelay(pod->delete_refusals()));
      }
      return;
    }
    case v1::ACTION_PATCH_STATUS: {
      if (r.ok()) return;
      if (v1::ImageRecord* image = FindMutable(state->mutable_images(), r.target())) {
        image->clear_status_issued();
        image->set_status_retry_ms(e.time_ms() + kStatusRetryDelayMs);
      }
      return;
    }
    default:
      return;
  }
}

void ApplyStarted(const v1::Entry& e, v1::State* state) {
  *state->mutable_config() = e.started().config();
  // A new process: nothing is listed yet, no timer survived, no executor call is in flight.
  // Writes the last process issued may never have reached the server: their outcome is unknown,
  // so they are decided again from what the relist shows (a create finds its pod by its name, a
  // delete of a pod already gone is done, a status already written is not written twice).
  state->clear_synced();
  state->clear_relisting();
  state->clear_requeues();
  // Events expire, and the last process's may never have been sent: a new one tells again of
  // each PullPolicy it cannot use.
  for (v1::PolicyRecord& policy : *state->mutable_policies())
    policy.clear_warned_generation();
  for (v1::PodGroup& group : *state->mutable_pod_groups()) {
    for (v1::PodRecord& pod : *group.mutable_pods()) {
      pod.set_create_pending(false);
      pod.set_delete_issued(false);
    }
  }
  for (v1::ImageRecord& image : *state->mutable_images())
    image.clear_status_issued();
}

void ApplyOutcome(const v1::Entry& e, v1::State* state) {
  const v1::PullOutcome& o = e.outcome();
  const std::string key = PodKey(o.cached_image(), o.node(), o.pod());
  // When the pull ended: for a pod a relist found ended, its container's finish (see
  // ApplyPod), so a backoff counts from the failure, not from drop's return.
  int64_t ended = e.time_ms();
  if (v1::PodRecord* pod = FindPodMutable(state, o.cached_image(), key)) {
    if (!pod->create_error().empty()) {
      ErasePod(state, o.cached_image(), key);  // it never existed
    } else {
      pod->set_accounted(true);
      if (pod->finished_ms() == 0) pod->set_finished_ms(e.time_ms());
      ended = pod->finished_ms();
    }
  }
  v1::ImageRecord* image = FindMutable(state->mutable_images(), o.cached_image());
  if (image == nullptr) return;
  // A pod can end after its node is gone: the node then holds nothing (see ForgetNode), or a
  // machine that comes up under its name would inherit the pull.
  const bool node_known = Find(state->nodes(), o.node()) != nullptr;
  if (o.outcome() == v1::PULL_SUCCEEDED) {
    if (node_known) InsertSorted(image->mutable_pulled_nodes(), o.node());
    Erase(image->mutable_failures(), o.node());
    // The streak ends, its time with it: a pacing decision does not cite a failure of a streak
    // gone as its input, and a later failure found by a relist counts from its own time.
    image->set_consecutive_failures(0);
    image->clear_last_failure_ms();
  } else {
    image->set_consecutive_failures(image->consecutive_failures() + 1);
    image->set_last_failure_ms(std::max(image->last_failure_ms(), ended));
    if (!node_known) return;
    bool inserted = false;
    v1::FailedNode* f = Upsert(image->mutable_failures(), o.node(), &inserted);
    f->set_node(o.node());
    f->set_reason(o.reason());
    f->set_message(o.message());
    f->set_last_failure_time_ms(ended);
  }
}

void ApplyAction(const v1::Entry& e, v1::State* state) {
  const v1::ActionIssued& a = e.action();
  switch (a.action_case()) {
    case v1::ActionIssued::kCreatePod: {
      const v1::DropPodSpec& spec = a.create_pod().pod();
      bool inserted = false;
      std::string key = PodKey(spec.cached_image(), spec.node(), spec.name());
      v1::PodRecord* r = UpsertPod(state, spec.cached_image(), key, &inserted);
      if (inserted) {
        v1::Pod* pod = r->mutable_pod();
        pod->set_name(spec.name());
        pod->set_node(spec.node());
        pod->set_cached_image(spec.cached_image());
        pod->set_image(spec.image());
        pod->set_generation(spec.generation());
      }
      r->set_policy(a.create_pod().policy());
      r->set_issued_ms(e.time_ms());
      r->set_create_pending(true);
      r->set_observed(false);  // not yet this create's pod
      const std::string& policy = a.create_pod().policy();
      if (policy.empty()) {
        state->set_default_policy_last_creation_ms(e.time_ms());
      } else if (v1::PolicyRecord* p = FindMutable(state->mutable_policies(), policy)) {
        p->set_last_creation_ms(e.time_ms());
      }
      if (v1::ImageRecord* image = FindMutable(state->mutable_images(), spec.cached_image())) {
        image->set_last_start_ms(e.time_ms());
      }
      return;
    }
    case v1::ActionIssued::kDeletePod: {
      const v1::DeletePod& d = a.delete_pod();
      if (v1::PodRecord* r = FindPodMutable(state, d.cached_image(),
                                            PodKey(d.cached_image(), d.node(), d.name()))) {
        r->set_delete_issued(true);
      }
      return;
    }
    case v1::ActionIssued::kPatchStatus:
      if (v1::ImageRecord* image =
              FindMutable(state->mutable_images(), a.patch_status().cached_image())) {
        *image->mutable_status_issued() = a.patch_status().status();
        CompactStatus(image->mutable_status_issued());
        image->set_status_retry_ms(0);
        image->set_status_written_ms(e.time_ms());
      }
      return;
    case v1::ActionIssued::kRequeue:
      SetRequeue(state, a.requeue().key(), a.requeue().at_ms());
      return;
    case v1::ActionIssued::kEmitEvent:
      // The Event that tells of a PullPolicy's spec error: once for its generation.
      if (a.emit_event().kind() == v1::KIND_PULL_POLICY &&
          a.emit_event().reason() == kInvalidSpec) {
        if (v1::PolicyRecord* p = FindMutable(state->mutable_policies(), a.emit_event().name())) {
          p->set_warned_generation(p->object().generation());
        }
      }
      return;
    case v1::ActionIssued::ACTION_NOT_SET:
      return;
  }
}

}  // namespace

v1::State InitialState() {
  v1::State state;
  state.set_schema_version(kSchemaVersion);
  return state;
}

void Apply(const v1::Entry& e, v1::State* state) {
  state->set_last_seq(e.seq());
  state->set_last_time_ms(std::max(state->last_time_ms(), e.time_ms()));
  switch (e.kind_case()) {
    case v1::Entry::kWatch:
      ApplyWatch(e, state);
      break;
    case v1::Entry::kRelistBegin:
      ApplyRelistBegin(e, state);
      break;
    case v1::Entry::kRelistEnd:
      ApplyRelistEnd(e.relist_end(), state);
      break;
    case v1::Entry::kTimer:
      ClearRequeue(state, e.timer().key());
      break;
    case v1::Entry::kActionResult:
      ApplyActionResult(e, state);
      break;
    case v1::Entry::kDiscovery:
      if (v1::DiscoveryRecord* d =
              FindMutable(state->mutable_discovery(), e.discovery().policy())) {
        *d->mutable_last_result() = e.discovery();
        d->set_last_result_ms(e.time_ms());
      }
      break;
    case v1::Entry::kStarted:
      ApplyStarted(e, state);
      break;
    case v1::Entry::kOutcome:
      ApplyOutcome(e, state);
      break;
    case v1::Entry::kAction:
      ApplyAction(e, state);
      break;
    case v1::Entry::kPacing:
      // The last wait recorded for the CachedImage, so an identical one is not recorded again.
      if (v1::ImageRecord* image =
              FindMutable(state->mutable_images(), e.pacing().cached_image())) {
        if (e.pacing().verdict() == v1::START) {
          image->clear_last_wait();
        } else {
          *image->mutable_last_wait() = e.pacing();
        }
      }
      break;
    case v1::Entry::kReconcile:
    case v1::Entry::KIND_NOT_SET:
      break;
  }
}

}  // namespace drop
