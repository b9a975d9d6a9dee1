#include "core/index.h"

#include <algorithm>
#include <array>
#include <vector>

#include "core/fold.h"
#include "core/image_view.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/scheduling.h"
#include "core/state.h"
#include "core/validation.h"

namespace drop {
namespace {

ImageStanding::Node StandingOf(const NodeFacts& f) {
  ImageStanding::Node n;
  n.targeted = f.fit == Fit::kTargeted;
  n.cached = f.cached;
  n.pod = f.pod != nullptr;
  n.failed = f.failure != nullptr;
  n.failure_ms = n.failed ? f.failure->last_failure_time_ms() : 0;
  return n;
}

// Adds `value` to `set` (sign 1) or takes it away (sign -1). A rebuild adds names in order: the
// hint at the end spares it the search, and costs another insert one comparison.
template <typename Set, typename Value>
void Put(Set* set, Value value, int sign) {
  if (sign > 0) {
    set->insert(set->end(), std::move(value));
  } else {
    set->erase(value);
  }
}

using Name = ImageStanding::Name;

// One node's part of the standing's counts and sets.
void Count(ImageStanding* s, const std::pair<const std::string, ImageStanding::Node>& entry,
           int sign) {
  const ImageStanding::Node& n = entry.second;
  const Name name = &entry.first;
  if (!n.targeted) return;
  s->targeted += sign;
  if (n.cached) {
    Put(&s->cached, name, sign);
    s->cached_digest.reset();
    return;
  }
  Put(&s->wanting, name, sign);
  if (n.pod) return;
  if (n.failed) {
    Put(&s->open_failed, std::pair(n.failure_ms, name), sign);
  } else {
    Put(&s->open, name, sign);
  }
}

// One pod's part of the standing's sets.
void Count(ImageStanding* s, const ImageStanding::PodEntry& entry, int sign) {
  const ImageStanding::Pod& p = entry.second;
  const ImageStanding::PodEntry* key = &entry;
  if (p.unaccounted) Put(&s->unaccounted, key, sign);
  if (p.superseded) Put(&s->superseded, key, sign);
  if (p.finished) Put(&s->finished, std::pair(p.finished_ms, key), sign);
  if (p.failed) Put(&s->failed, std::pair(p.finished_ms, key), sign);
  if (p.in_the_way) Put(&s->in_the_way, key, sign);
}

// Keeps `now` as the standing of `key` (nullopt: it is gone), the old one's part taken out of
// the sets and the new one's put in.
template <typename T>
void Replace(ImageStanding* s, std::unordered_map<std::string, T>* kept, const std::string& key,
             const std::optional<T>& now) {
  auto it = kept->find(key);
  if (it != kept->end()) {
    if (now && *now == it->second) return;  // most refreshes change nothing
    Count(s, *it, -1);
    if (!now) {
      kept->erase(it);
      return;
    }
    it->second = *now;
  } else {
    if (!now) return;
    it = kept->emplace(key, *now).first;
  }
  Count(s, *it, 1);
}

// Brings one node's standing up to date with the facts (nullptr: the node is gone).
void Restand(ImageStanding* s, const std::string& name, const NodeFacts* facts) {
  Replace(s, &s->nodes, name, facts != nullptr ? std::optional(StandingOf(*facts)) : std::nullopt);
}

ImageStanding::Pod PodStandingOf(const v1::ImageRecord& image, const v1::PodRecord& r,
                                 const ImageStanding& s) {
  ImageStanding::Pod p;
  p.record = &r;
  p.unaccounted = !r.accounted();
  if (r.delete_issued() || !r.create_error().empty()) return p;
  if (Superseded(image, r)) {
    p.superseded = true;
    return p;
  }
  if (!r.accounted()) return p;
  p.finished = true;
  p.finished_ms = r.finished_ms();
  p.failed = r.pod().phase() == v1::POD_FAILED;
  auto node = s.nodes.find(r.pod().node());
  p.in_the_way = node != s.nodes.end() && node->second.targeted && !node->second.cached;
  return p;
}

// Brings one pod's standing up to date with its record (nullptr: the record is gone).
void Repod(ImageStanding* s, const std::string& key, const v1::ImageRecord& image,
           const v1::PodRecord* r) {
  Replace(s, &s->pods, key,
          r != nullptr ? std::optional(PodStandingOf(image, *r, *s)) : std::nullopt);
}

// What of a CachedImage's record its standing follows: which object it is, its spec and the
// image it resolved to. Its status, which drop's own writes change, is left out.
std::string StandingInputs(const v1::State& state, const std::string& name) {
  const v1::ImageRecord* r = Find(state.images(), name);
  if (r == nullptr) return "";
  return r->object().uid() + '\0' + r->image_key() + '\0' + r->object().spec().SerializeAsString();
}

// Whether two elements of a standing's sets name the same node or pod (at the same time).
bool Same(ImageStanding::Name a, ImageStanding::Name b) {
  return *a == *b;
}
bool Same(const ImageStanding::PodEntry* a, const ImageStanding::PodEntry* b) {
  return a->first == b->first;
}
template <class T>
bool Same(const std::pair<int64_t, T>& a, const std::pair<int64_t, T>& b) {
  return a.first == b.first && Same(a.second, b.second);
}

// The same names, in the same order.
template <class Set>
bool SameNames(const Set& a, const Set& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return Same(x, y); });
}

}  // namespace

bool ImageStanding::operator==(const ImageStanding& o) const {
  return nodes == o.nodes && targeted == o.targeted && SameNames(cached, o.cached) &&
         SameNames(wanting, o.wanting) && SameNames(open, o.open) &&
         SameNames(open_failed, o.open_failed) && pods == o.pods &&
         SameNames(unaccounted, o.unaccounted) && SameNames(superseded, o.superseded) &&
         SameNames(finished, o.finished) && SameNames(failed, o.failed) &&
         SameNames(in_the_way, o.in_the_way) && spec_error == o.spec_error;
}

const v1::PodRecord* ImageStanding::Record(const std::string& key) const {
  auto it = pods.find(key);
  return it == pods.end() ? nullptr : it->second.record;
}

uint64_t ImageStanding::CachedDigest() const {
  if (!cached_digest) {
    uint64_t h = kEmptyCachedNodesDigest;
    for (Name node : cached)
      h = CachedNodesDigestStep(h, *node);
    cached_digest = h;
  }
  return *cached_digest;
}

void Index::Apply(const v1::Entry& e, v1::State* state) {
  // What the entry can change: one pod record (its activity), and how images stand on nodes.
  std::string pod;
  const std::string* image = nullptr;
  const std::string* node = nullptr;
  const std::string* policy = nullptr;
  // Whether the entry updates the pod's record in place, when it has one: it neither adds nor
  // erases a record, so the node's facts stay (which pod sits there; the image record and the
  // node are not touched) and only that pod's standing can change. A watch's pod must be the
  // record's (its uid, or the record has none yet), or the fold replaces the record.
  bool in_place = false;
  const std::string* uid = nullptr;
  bool all = false;
  switch (e.kind_case()) {
    case v1::Entry::kWatch: {
      const v1::WatchEvent& w = e.watch();
      if (w.has_node()) node = &w.node().name();
      if (w.has_cached_image()) image = &w.cached_image().name();
      if (w.has_pull_policy()) policy = &w.pull_policy().name();
      if (w.has_pod()) {
        pod = PodKey(w.pod());
        image = &w.pod().cached_image();
        node = &w.pod().node();
        in_place = w.type() != v1::DELETED;  // see ApplyPod
        uid = &w.pod().uid();
      }
      break;
    }
    case v1::Entry::kActionResult: {
      const v1::ActionResult& r = e.action_result();
      if (r.kind() == v1::ACTION_CREATE_POD || r.kind() == v1::ACTION_DELETE_POD) {
        pod = PodKey(r.cached_image(), r.node(), r.target());
        image = &r.cached_image();
        node = &r.node();
      }
      in_place = r.kind() == v1::ACTION_CREATE_POD;  // see ApplyActionResult
      break;
    }
    case v1::Entry::kOutcome: {
      const v1::PullOutcome& o = e.outcome();
      pod = PodKey(o.cached_image(), o.node(), o.pod());
      image = &o.cached_image();
      node = &o.node();
      break;
    }
    case v1::Entry::kAction:
      if (e.action().has_create_pod()) {
        const v1::DropPodSpec& spec = e.action().create_pod().pod();
        pod = PodKey(spec.cached_image(), spec.node(), spec.name());
        image = &spec.cached_image();
        node = &spec.node();
      }
      if (e.action().has_delete_pod()) {
        const v1::DeletePod& d = e.action().delete_pod();
        pod = PodKey(d.cached_image(), d.node(), d.name());
        image = &d.cached_image();
        node = &d.node();
      }
      break;
    case v1::Entry::kRelistEnd:
    case v1::Entry::kStarted:
      all = true;  // rare, and they reach every record
      break;
    default:
      break;
  }
  // A relist's end changes no record it keeps: it erases those the relist did not return (and
  // what drop kept about a node gone). When it erased none, every standing stays as it is.
  auto records = [](const v1::State& s) {
    return std::array{s.nodes_size(), s.images_size(), s.policies_size(), PodCount(s),
                      s.discovery_size()};
  };
  const auto records_before = all ? records(*state) : decltype(records(*state)){};
  std::string image_before;
  if (image != nullptr && node == nullptr) image_before = StandingInputs(*state, *image);
  const v1::PodRecord* before = pod.empty() ? nullptr : FindPod(*state, *image, pod);
  CountPod(before, -1);
  // A CachedImage moved to another PullPolicy, or recorded after its pods, takes its pods along
  // (ApplyCachedImage).
  bool moved = false;
  if (e.has_watch() && e.watch().has_cached_image() && e.watch().type() != v1::DELETED) {
    const v1::ImageRecord* r = Find(state->images(), *image);
    moved = r == nullptr || r->object().spec().pull_policy_ref() !=
                                e.watch().cached_image().spec().pull_policy_ref();
    if (moved) {
      for (const v1::PodRecord& p : PodsOf(*state, *image))
        CountPod(&p, -1);
    }
  }
  // A node's watch that keeps what FitNode reads of it, and the node itself, changes the standing
  // only of the images it starts or stops listing (kubelet reports one it pulled): not every one.
  std::optional<std::vector<const std::string*>> relisted;
  if (e.has_watch() && e.watch().has_node() && e.watch().type() != v1::DELETED) {
    const v1::Node& now = e.watch().node();
    const v1::NodeRecord* was = Find(state->nodes(), now.name());
    if (was != nullptr && was->node().uid() == now.uid() && SameFit(was->node(), now)) {
      relisted.emplace();
      for (const v1::ImageRecord& r : state->images()) {
        uint64_t h = MatchHash(r);
        if (Lists(was->node(), h) != Lists(now, h)) relisted->push_back(&r.object().name());
      }
    }
  }
  const v1::PodRecord* updated = nullptr;
  if (in_place && before != nullptr &&
      (uid == nullptr || before->pod().uid().empty() || before->pod().uid() == *uid)) {
    updated = before;
  }
  drop::Apply(e, state);
  if (moved) {
    for (const v1::PodRecord& p : PodsOf(*state, *image))
      CountPod(&p, 1);
  }
  // Most updates of a CachedImage are its status coming back from drop's own writes.
  if (image != nullptr && node == nullptr && StandingInputs(*state, *image) == image_before &&
      !image_before.empty()) {
    return;
  }

  if (all) {
    if (e.has_started() || records(*state) != records_before) Rebuild(*state);
  } else if (updated != nullptr) {
    RefreshPod(*state, *image, pod, *updated);
    CountPod(updated, 1);
  } else if (image != nullptr && node != nullptr) {
    RefreshNode(*state, *image, *node, pod);
    if (!pod.empty()) CountPod(FindPod(*state, *image, pod), 1);
  } else if (image != nullptr) {
    RefreshImage(*state, *image);
  } else if (relisted) {
    for (const std::string* name : *relisted)  // a node's fold leaves the image records be
      RefreshNode(*state, *name, *node);
  } else if (node != nullptr) {
    for (const v1::ImageRecord& r : state->images())
      RefreshNode(*state, r.object().name(), *node);
  } else if (policy != nullptr) {
    // Whether a listed image counts as cached follows the policy's imagePullPolicy.
    for (const v1::ImageRecord& r : state->images()) {
      if (r.object().spec().pull_policy_ref() == *policy) RefreshImage(*state, r.object().name());
    }
  }
}

void Apply(const v1::Entry& entry, v1::State* state, Index* index) {
  if (index != nullptr) {
    index->Apply(entry, state);
  } else {
    Apply(entry, state);
  }
}

int Index::Active(std::string_view policy) const {
  auto it = active_.find(policy);
  return it == active_.end() ? 0 : it->second;
}

const ImageStanding* Index::Standing(std::string_view image) const {
  auto it = images_.find(image);
  return it == images_.end() ? nullptr : &it->second;
}

const v1::PodRecord* Index::FindPod(const v1::State& state, std::string_view image,
                                    const std::string& key) const {
  // The image's standing knows every record of its pods; those of an image the State lacks are
  // searched for.
  const ImageStanding* s = Standing(image);
  return s != nullptr ? s->Record(key) : drop::FindPod(state, image, key);
}

void Index::Rebuild(const v1::State& state) {
  active_.clear();
  for (const v1::PodRecord& r : AllPods(state)) {
    if (IsActive(r)) ++active_[r.policy()];
  }
  images_.clear();
  for (const v1::ImageRecord& r : state.images())
    RefreshImage(state, r.object().name());
}

void Index::RefreshImage(const v1::State& state, std::string_view name) {
  const v1::ImageRecord* record = Find(state.images(), name);
  if (record == nullptr) {
    if (auto it = images_.find(name); it != images_.end()) images_.erase(it);
    return;
  }
  ImageStanding& s = images_[std::string(name)];
  s = ImageStanding();
  s.spec_error = ValidateCachedImage(record->object());
  const List<v1::PodRecord>& pods = PodsOf(state, name);
  s.nodes.reserve(static_cast<size_t>(state.nodes_size()));
  s.pods.reserve(static_cast<size_t>(pods.size()));
  ImageView(state, *record).ForEachNode([&](const NodeFacts& f) {
    Restand(&s, f.node->name(), &f);
    return true;
  });
  for (const v1::PodRecord& pod : pods)
    Repod(&s, pod.key(), *record, &pod);
}

void Index::RefreshNode(const v1::State& state, std::string_view image, std::string_view node,
                        const std::string& pod) {
  const v1::ImageRecord* record = Find(state.images(), image);
  auto it = images_.find(image);
  if (record == nullptr || it == images_.end()) return;  // the watch of the image decides
  ImageStanding* s = &it->second;
  // The image's pods on the node, in key order: the first is the node's pod in its facts.
  const List<v1::PodRecord>& pods = PodsOf(state, image);
  const std::string prefix = PodKey(image, node, "");
  const int first = LowerBound(pods, prefix);
  int last = first;
  while (last < pods.size() && pods[last].key().starts_with(prefix))
    ++last;
  const v1::NodeRecord* n = Find(state.nodes(), node);
  if (n == nullptr) {
    Restand(s, std::string(node), nullptr);
  } else {
    NodeFacts facts =
        ImageView(state, *record).FactsOf(n->node(), first < last ? &pods[first] : nullptr);
    Restand(s, n->node().name(), &facts);
  }
  // Whether its finished pods are in the way follows the node's standing.
  bool pod_kept = pod.empty();
  for (int i = first; i < last; ++i) {
    Repod(s, pods[i].key(), *record, &pods[i]);
    pod_kept = pod_kept || pods[i].key() == pod;
  }
  if (!pod_kept) Repod(s, pod, *record, nullptr);  // the entry erased its record
}

void Index::RefreshPod(const v1::State& state, std::string_view image, const std::string& key,
                       const v1::PodRecord& record) {
  const v1::ImageRecord* r = Find(state.images(), image);
  auto it = images_.find(image);
  if (r == nullptr || it == images_.end()) return;  // the watch of the image decides
  Repod(&it->second, key, *r, &record);
}

void Index::CountPod(const v1::PodRecord* r, int delta) {
  if (r == nullptr || !IsActive(*r)) return;
  // A policy with no active pod has no entry, as in a rebuilt index.
  auto it = active_.try_emplace(r->policy(), 0).first;
  if ((it->second += delta) == 0) active_.erase(it);
}

std::string Index::Differences(const v1::State& state) const {
  Index fresh(state);
  std::string out;
  for (const auto& [policy, n] : fresh.active_) {
    if (Active(policy) != n) {
      out += "policy '" + policy + "': " + std::to_string(Active(policy)) + " active, not " +
             std::to_string(n) + "; ";
    }
  }
  if (active_.size() != fresh.active_.size()) out += "active counts kept for policies with none; ";
  for (const auto& [name, s] : fresh.images_) {
    const ImageStanding* kept = Standing(name);
    if (kept == nullptr) {
      out += "cachedimage/" + name + " missing; ";
    } else if (*kept != s) {
      out += "cachedimage/" + name + " stands otherwise (" + std::to_string(kept->targeted) +
             " targeted, " + std::to_string(kept->cached.size()) + " cached, not " +
             std::to_string(s.targeted) + " and " + std::to_string(s.cached.size()) + "); ";
    }
  }
  if (images_.size() != fresh.images_.size()) out += "standings kept for CachedImages gone; ";
  return out;
}

}  // namespace drop
