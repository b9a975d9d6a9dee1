#include "core/pacing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "core/drop_pod.h"
#include "core/image_view.h"
#include "core/index.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "core/validation.h"

namespace drop {

bool IsImagePullError(std::string_view reason) {
  return reason == "ErrImagePull" || reason == "ImagePullBackOff" || reason == "InvalidImageName" ||
         reason == "ErrImageNeverPull";
}

bool IsPulling(const v1::Pod& pod) {
  bool running = pod.phase() == v1::POD_PHASE_UNKNOWN || pod.phase() == v1::POD_PENDING ||
                 pod.phase() == v1::POD_RUNNING;
  return running && !IsImagePullError(pod.waiting_reason());
}

bool IsActive(const v1::PodRecord& r) {
  return r.create_error().empty() && IsPulling(r.pod());
}

int CountActive(const v1::State& state, std::string_view policy) {
  int n = 0;
  for (const v1::PodRecord& pod : AllPods(state))
    n += IsActive(pod) && pod.policy() == policy;  // most pods have ended: the cheap test first
  return n;
}

int64_t BackoffDelay(const v1::Backoff& b, int32_t failures) {
  if (failures <= 0) return 0;
  double delay = static_cast<double>(b.initial_delay_ms()) * std::pow(b.factor(), failures - 1);
  if (!(delay < static_cast<double>(b.max_delay_ms()))) return b.max_delay_ms();
  return static_cast<int64_t>(delay);
}

int64_t BackoffUntil(const v1::Backoff& b, const v1::ImageRecord& image) {
  if (image.consecutive_failures() == 0) return 0;
  return image.last_failure_ms() + BackoffDelay(b, image.consecutive_failures());
}

int64_t LastCreation(const v1::State& state, std::string_view policy) {
  if (policy.empty()) return state.default_policy_last_creation_ms();
  const v1::PolicyRecord* p = Find(state.policies(), policy);
  return p == nullptr ? 0 : p->last_creation_ms();
}

const char* VerdictName(v1::Verdict v) {
  switch (v) {
    case v1::START:
      return "Start";
    case v1::WAIT_CONCURRENCY:
      return "WaitConcurrency";
    case v1::WAIT_MIN_DELAY:
      return "WaitMinDelay";
    case v1::WAIT_BACKOFF:
      return "WaitBackoff";
    case v1::NO_ELIGIBLE_NODE:
      return "NoEligibleNode";
    default:
      return "Unknown";
  }
}

namespace {

// A CachedImage competing for the policy's budget in this pass.
struct Lane {
  const v1::ImageRecord* record;
  int64_t last_start;
  bool done = false;
  bool checked = false;              // its spec validated
  std::vector<std::string> started;  // nodes started in this pass
};

// The node the image should pull on next: nodes that never failed it, in name order; then the
// ones that did, least recent failure first, so one bad node cannot starve the others.
struct Candidate {
  const v1::Node* node = nullptr;
  bool wanting = false;  // some targeted node lacks the image
};

Candidate FirstCandidate(const ImageView& view, const std::vector<std::string>& exclude) {
  Candidate best;
  const v1::FailedNode* best_failure = nullptr;
  view.ForEachNode([&](const NodeFacts& f) {
    if (f.fit != Fit::kTargeted || f.cached) return true;
    best.wanting = true;
    if (f.pod != nullptr ||
        std::find(exclude.begin(), exclude.end(), f.node->name()) != exclude.end()) {
      return true;
    }
    if (f.failure == nullptr) {
      best.node = f.node;
      best_failure = nullptr;
      return false;
    }
    if (best_failure == nullptr ||
        f.failure->last_failure_time_ms() < best_failure->last_failure_time_ms()) {
      best.node = f.node;
      best_failure = f.failure;
    }
    return true;
  });
  return best;
}

// The same choice, read from the index's sets of open nodes.
Candidate FirstCandidate(const v1::State& state, const ImageStanding& standing,
                         const std::vector<std::string>& exclude) {
  Candidate best;
  best.wanting = !standing.wanting.empty();
  auto excluded = [&](const std::string* node) {
    return std::find(exclude.begin(), exclude.end(), *node) != exclude.end();
  };
  const std::string* pick = nullptr;
  for (const std::string* node : standing.open) {
    if (!excluded(node)) {
      pick = node;
      break;
    }
  }
  for (auto it = standing.open_failed.begin(); pick == nullptr && it != standing.open_failed.end();
       ++it) {
    if (!excluded(it->second)) pick = it->second;
  }
  const v1::NodeRecord* node = pick != nullptr ? Find(state.nodes(), *pick) : nullptr;
  if (node != nullptr) best.node = &node->node();
  return best;
}

// Puts lanes[i], whose last start changed, where a stable sort by last start would: the other
// lanes are in that order already, and it passes only those whose start it no longer ties.
void Resort(std::vector<Lane>* lanes, size_t i) {
  auto at = lanes->begin() + static_cast<long>(i);
  const int64_t start = at->last_start;
  auto right =
      std::find_if(at + 1, lanes->end(), [&](const Lane& l) { return l.last_start >= start; });
  if (right != at + 1) {
    std::rotate(at, at + 1, right);
    return;
  }
  auto left = std::find_if(std::make_reverse_iterator(at), lanes->rend(),
                           [&](const Lane& l) { return l.last_start <= start; });
  std::rotate(left.base(), at, at + 1);
}

// A pull of the image whose outcome is still to come: created, not yet accounted, not deleted,
// and of the image spec.image names now.
bool InFlight(const v1::ImageRecord& image, const v1::PodRecord& r) {
  return !r.accounted() && !r.delete_issued() && r.create_error().empty() && !Superseded(image, r);
}

// Rule 4: the pull that holds a failing CachedImage to one node at a time, or nullptr. While its
// pulls fail (it has consecutive failures, or a pull of it waits on an image error), more nodes
// would only repeat the failure against the registry: the pull in flight is the probe, and the
// next waits for its outcome. Names the first pull in flight waiting on an image error, else,
// with failures, the first in flight.
const v1::PodRecord* HeldBy(const v1::State& state, const ImageStanding* standing,
                            const v1::ImageRecord& image) {
  const bool failing = image.consecutive_failures() > 0;
  const v1::PodRecord* first = nullptr;
  auto erring = [&](const v1::PodRecord& r) {
    bool error = IsImagePullError(r.pod().waiting_reason());
    if ((!error && (!failing || first != nullptr)) || !InFlight(image, r)) return false;
    if (first == nullptr) first = &r;
    return error;
  };
  const v1::PodRecord* error = FindUnaccounted(state, standing, image.object().name(), erring);
  return error != nullptr ? error : first;
}

v1::Entry Decision(const v1::PacingDecision& d) {
  v1::Entry e;
  *e.mutable_pacing() = d;
  return e;
}

// Records a wait unless it repeats the last one recorded for the CachedImage (same verdict, same
// inputs): a repeat tells the audit nothing new.
void RecordWait(const Lane& lane, const v1::PacingDecision& d, std::vector<v1::Entry>* out) {
  if (lane.record->has_last_wait() &&
      lane.record->last_wait().SerializeAsString() == d.SerializeAsString()) {
    return;
  }
  out->push_back(Decision(d));
}

// A PullPolicy has no status: its spec error is told in a Warning Event on it, once for each
// generation of the object and each start of the operator (the fold of the event marks the
// generation told of; a new object or a new process forgets it). The CachedImages that use it
// carry the error in their Ready condition.
void WarnOfSpecError(const v1::PolicyRecord& record, const std::string& error,
                     std::vector<v1::Entry>* out) {
  const v1::PullPolicy& object = record.object();
  if (record.has_warned_generation() && record.warned_generation() == object.generation()) return;
  out->push_back(MakeEvent(v1::KIND_PULL_POLICY, object.name(), object.uid(), "Warning",
                           kInvalidSpec,
                           error + "; no CachedImage under it pulls until it is fixed"));
}

}  // namespace

std::vector<v1::Entry> PacePolicy(const v1::State& state, std::string_view policy, int64_t now,
                                  const Index* index) {
  std::vector<v1::Entry> out;
  const v1::PullPolicySpec* spec = FindPolicySpec(state, policy);
  if (spec == nullptr) return out;
  const v1::PolicyRecord* record = Find(state.policies(), policy);
  if (std::string error = PullPolicyError(policy, *spec, record); !error.empty()) {
    if (record != nullptr) WarnOfSpecError(*record, error, &out);
    return out;
  }

  // Round robin: the lane that started least recently goes first; a start sends it to the back
  // (Resort). Ties start in name order (images are sorted by name), then keep the order they
  // have: recorded decisions follow it, and sorting ties by name after a start would decide
  // otherwise. Sorting (start, position) pairs is a stable sort that moves no lane.
  std::vector<std::pair<int64_t, int>> order;
  for (int i = 0; i < state.images_size(); ++i) {
    const v1::CachedImage& object = state.images(i).object();
    if (object.spec().pull_policy_ref() != policy || object.deleting()) continue;
    order.emplace_back(state.images(i).last_start_ms(), i);
  }
  std::sort(order.begin(), order.end());
  std::vector<Lane> lanes;
  lanes.reserve(order.size());
  for (auto [last_start, i] : order)
    lanes.push_back(Lane{.record = &state.images(i), .last_start = last_start, .started = {}});

  int active = index != nullptr ? index->Active(policy) : CountActive(state, policy);
  int64_t last_creation = LastCreation(state, policy);
  int64_t wake = std::numeric_limits<int64_t>::max();
  const v1::Backoff& backoff = spec->backoff();

  // A wait that only the CachedImage's own state decides leaves the policy's counters out, so that
  // other images' pulls do not make it a new decision.
  auto own = [&](const Lane& lane, v1::Verdict verdict) {
    v1::PacingDecision d;
    d.set_policy(std::string(policy));
    d.set_cached_image(lane.record->object().name());
    d.set_verdict(verdict);
    d.set_consecutive_failures(lane.record->consecutive_failures());
    return d;
  };
  auto base = [&](const Lane& lane) {
    v1::PacingDecision d;
    d.set_policy(std::string(policy));
    d.set_cached_image(lane.record->object().name());
    d.set_active(active);
    d.set_limit(spec->max_concurrent_nodes());
    d.set_last_creation_ms(last_creation);
    d.set_min_delay_ms(spec->min_delay_between_pulls_ms());
    d.set_consecutive_failures(lane.record->consecutive_failures());
    d.set_last_failure_ms(lane.record->last_failure_ms());
    d.set_backoff_delay_ms(BackoffDelay(backoff, lane.record->consecutive_failures()));
    return d;
  };

  while (true) {
    Lane* next = nullptr;
    Candidate candidate;
    for (Lane& lane : lanes) {
      if (lane.done) continue;
      const ImageStanding* standing =
          index != nullptr ? index->Standing(lane.record->object().name()) : nullptr;
      // An invalid spec takes no part; checked when the lane's turn first comes, as most passes
      // end at the first lane that has a node to pull on.
      if (!lane.checked) {
        lane.checked = true;
        if (standing != nullptr ? !standing->spec_error.empty()
                                : !ValidateCachedImage(lane.record->object()).empty()) {
          lane.done = true;
          continue;
        }
      }
      // Rule 3: the CachedImage's own backoff.
      int64_t until = BackoffUntil(backoff, *lane.record);
      if (now < until) {
        v1::PacingDecision d = base(lane);
        d.set_verdict(v1::WAIT_BACKOFF);
        d.set_not_before_ms(until);
        RecordWait(lane, d, &out);
        wake = std::min(wake, until);
        lane.done = true;
        continue;
      }
      candidate = standing != nullptr
                      ? FirstCandidate(state, *standing, lane.started)
                      : FirstCandidate(ImageView(state, *lane.record), lane.started);
      if (candidate.node == nullptr) {
        if (candidate.wanting) {  // every node lacking the image already has a pod of it
          RecordWait(lane, own(lane, v1::NO_ELIGIBLE_NODE), &out);
        }
        lane.done = true;
        continue;
      }
      // Rule 4: with a node to pull on, a failing image pulls on one at a time; the end of the
      // pull in flight wakes the policy.
      if (const v1::PodRecord* pull = HeldBy(state, standing, *lane.record)) {
        v1::PacingDecision d = own(lane, v1::WAIT_BACKOFF);
        d.set_in_flight_pod(pull->pod().name());
        RecordWait(lane, d, &out);
        lane.done = true;
        continue;
      }
      next = &lane;
      break;
    }
    if (next == nullptr) break;

    v1::PacingDecision d = base(*next);
    // Rule 1: the policy's concurrency budget.
    if (active >= spec->max_concurrent_nodes()) {
      d.set_verdict(v1::WAIT_CONCURRENCY);
      RecordWait(*next, d, &out);
      break;  // a pod's end will wake the policy
    }
    // Rule 2: the least time between two creations under the policy.
    int64_t min_delay = spec->min_delay_between_pulls_ms();
    if (last_creation > 0 && now - last_creation < min_delay) {
      d.set_verdict(v1::WAIT_MIN_DELAY);
      d.set_not_before_ms(last_creation + min_delay);
      RecordWait(*next, d, &out);
      wake = std::min(wake, last_creation + min_delay);
      break;
    }

    const v1::CachedImage& object = next->record->object();
    v1::Entry create;
    v1::CreatePod* c = create.mutable_action()->mutable_create_pod();
    c->set_policy(std::string(policy));
    *c->mutable_pod() = MakeDropPod(state.config(), object, *spec, candidate.node->name());
    const std::string pod = c->pod().name();
    d.set_verdict(v1::START);
    d.set_node(candidate.node->name());
    d.set_pod(pod);
    out.push_back(Decision(d));
    out.push_back(std::move(create));

    out.push_back(MakeEvent(v1::KIND_CACHED_IMAGE, object.name(), object.uid(), "Normal",
                            "PullStarted",
                            "Pulling " + object.spec().image() + " on node " +
                                candidate.node->name() + " (pod " + pod + ")"));

    ++active;
    last_creation = now;
    next->last_start = now;
    next->started.push_back(candidate.node->name());
    // Rule 4: a failing image's one pull in flight is this one.
    next->done = next->record->consecutive_failures() > 0;
    Resort(&lanes, static_cast<size_t>(next - lanes.data()));
  }

  RequeueAt(state, MakeKey(v1::KIND_PULL_POLICY, policy), wake, &out);
  return out;
}

}  // namespace drop
