// What the core keeps beside the State so that a reconcile costs what changed, not the size of
// the cluster: how each CachedImage stands on each node, and each policy's active pulls. Derived
// from the State alone, never journaled; whoever folds through an Index gets decisions equal, byte
// for byte, to the ones a full walk of the State makes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "core/schema.h"
#include "core/state.h"

namespace drop {

// One CachedImage's nodes and drop pods, as its census, its choice of the next node and its
// reconcile read them. Pods go by their key, so every set of them is in their PodGroup's order. The
// sets point into the maps (a map's entries stay where they are): the node sets hold the names
// it keeps, the pod sets its entries. So a standing is moved, never copied.
struct ImageStanding {
  ImageStanding() = default;
  ImageStanding(const ImageStanding&) = delete;
  ImageStanding& operator=(const ImageStanding&) = delete;
  ImageStanding(ImageStanding&&) = default;
  ImageStanding& operator=(ImageStanding&&) = default;

  using Name = const std::string*;
  struct ByName {
    bool operator()(Name a, Name b) const { return *a < *b; }
  };
  // A null name goes before every name of its time: {t, nullptr} bounds a search from t on.
  struct ByTimeThenName {
    bool operator()(const std::pair<int64_t, Name>& a, const std::pair<int64_t, Name>& b) const {
      if (a.first != b.first) return a.first < b.first;
      if (a.second == nullptr || b.second == nullptr) return a.second == nullptr && b.second;
      return *a.second < *b.second;
    }
  };
  using Names = std::set<Name, ByName>;
  using TimedNames = std::set<std::pair<int64_t, Name>, ByTimeThenName>;

  // How one node stands; what the sets below were filled from.
  struct Node {
    bool targeted = false, cached = false, pod = false, failed = false;
    int64_t failure_ms = 0;  // the latest failure's time, when failed
    bool operator==(const Node&) const = default;
  };
  std::unordered_map<std::string, Node> nodes;  // every node in the State
  int targeted = 0;
  // ValidateCachedImage of the CachedImage: its spec is one of the standing's inputs.
  std::string spec_error;
  Names cached;   // targeted nodes that hold the image
  Names wanting;  // targeted nodes that lack it
  // Nodes that lack it and have no pod of it: the candidates, never-failed ones by name and the
  // others by their latest failure (then name).
  Names open;
  TimedNames open_failed;

  // How one pod stands; what the pod sets below were filled from.
  struct Pod {
    bool unaccounted = false, superseded = false, finished = false, failed = false;
    bool in_the_way = false;
    int64_t finished_ms = 0;
    // Its record in the State: a record stays where it is until it is erased, and the entry that
    // erases it drops this Pod.
    const v1::PodRecord* record = nullptr;
    bool operator==(const Pod&) const = default;
  };
  std::unordered_map<std::string, Pod> pods;  // every pod record of the CachedImage
  // The record of pod `key`; nullptr when there is none.
  const v1::PodRecord* Record(const std::string& key) const;
  // The pod sets below hold entries of `pods` (which stay where they are), ordered by key: a
  // reconcile that walks one reaches each record without a lookup.
  using PodEntry = std::pair<const std::string, Pod>;
  struct ByKey {
    bool operator()(const PodEntry* a, const PodEntry* b) const { return a->first < b->first; }
  };
  // A null entry goes before every entry of its time: {t, nullptr} bounds a search from t on.
  struct ByTimeThenKey {
    bool operator()(const std::pair<int64_t, const PodEntry*>& a,
                    const std::pair<int64_t, const PodEntry*>& b) const {
      if (a.first != b.first) return a.first < b.first;
      if (a.second == nullptr || b.second == nullptr) return a.second == nullptr && b.second;
      return a.second->first < b.second->first;
    }
  };
  using Pods = std::set<const PodEntry*, ByKey>;
  using TimedPods = std::set<std::pair<int64_t, const PodEntry*>, ByTimeThenKey>;
  Pods unaccounted;  // not yet accounted (their outcome is still to come)
  // The rest leave out pods whose delete is issued or whose create failed.
  Pods superseded;     // made for another image than spec.image names now
  TimedPods finished;  // accounted, by finish time
  TimedPods failed;    // those of them that failed
  Pods in_the_way;     // finished on a targeted node that lacks the image

  // CachedNodesDigest of `cached`: a status compared with the one written needs it every time,
  // the set changes far less often.
  uint64_t CachedDigest() const;
  mutable std::optional<uint64_t> cached_digest;  // reset whenever `cached` changes

  // Same standings and the same names in each set (the sets follow from the standings).
  bool operator==(const ImageStanding& o) const;
};

class Index {
 public:
  Index() = default;
  explicit Index(const v1::State& state) { Rebuild(state); }
  // It points into itself and into its State: a copy would point into the original's.
  Index(const Index&) = delete;
  Index& operator=(const Index&) = delete;
  Index(Index&&) = default;
  Index& operator=(Index&&) = default;

  // Folds `entry` into *state (see drop::Apply) and brings the index up to date with it.
  void Apply(const v1::Entry& entry, v1::State* state);

  // Active drop pods under the policy: CountActive without the walk over every pod.
  int Active(std::string_view policy) const;
  // nullptr when the State holds no CachedImage of that name.
  const ImageStanding* Standing(std::string_view image) const;
  // The record of pod `key` of CachedImage `image` in `state` (Find without the search when the
  // index keeps the image's standing); nullptr when there is none.
  const v1::PodRecord* FindPod(const v1::State& state, std::string_view image,
                               const std::string& key) const;

  // Where this index differs from one built afresh from `state`; empty when it does not.
  std::string Differences(const v1::State& state) const;

 private:
  void Rebuild(const v1::State& state);
  void RefreshImage(const v1::State& state, std::string_view image);
  // `pod`, when not empty, is a record of this image on this node that the entry may have erased.
  void RefreshNode(const v1::State& state, std::string_view image, std::string_view node,
                   const std::string& pod = "");
  // Brings the standing of pod `key` of `image`, whose record the entry updated in place, up to
  // date: the node's facts and the other pods' standings stay what they were.
  void RefreshPod(const v1::State& state, std::string_view image, const std::string& key,
                  const v1::PodRecord& record);
  // Counts pod record `r` (nullptr: none) in or out of its policy's active pulls, when it is
  // active.
  void CountPod(const v1::PodRecord* r, int delta);

  // Active drop pods by policy; a policy with none has no entry.
  std::map<std::string, int, std::less<>> active_;
  std::map<std::string, ImageStanding, std::less<>> images_;
};

// Folds `entry` into *state, through `index` when there is one (Step and verify take either).
void Apply(const v1::Entry& entry, v1::State* state, Index* index);

// The first pod record of CachedImage `image` not yet accounted, in key order, for which `stop`
// returns true (nullptr: none). Reads the image's standing when there is one, else walks its pods:
// the same records, in the same order.
template <typename Stop>
const v1::PodRecord* FindUnaccounted(const v1::State& state, const ImageStanding* standing,
                                     std::string_view image, Stop stop) {
  if (standing != nullptr) {
    for (const ImageStanding::PodEntry* pod : standing->unaccounted) {
      if (stop(*pod->second.record)) return pod->second.record;
    }
    return nullptr;
  }
  for (const v1::PodRecord& r : PodsOf(state, image)) {
    if (!r.accounted() && stop(r)) return &r;
  }
  return nullptr;
}

}  // namespace drop
