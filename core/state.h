// Keyed access to the fold's State. Every collection in State is a list sorted by name (so equal
// states serialize to equal bytes); these helpers find, insert and erase by binary search.
#pragma once

#include <algorithm>
#include <ranges>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/schema.h"

namespace drop {

inline const std::string& NameOf(const v1::NodeRecord& r) {
  return r.node().name();
}
inline const std::string& NameOf(const v1::ImageRecord& r) {
  return r.object().name();
}
inline const std::string& NameOf(const v1::PolicyRecord& r) {
  return r.object().name();
}
inline const std::string& NameOf(const v1::PodRecord& r) {
  return r.key();
}
inline const std::string& NameOf(const v1::PodGroup& g) {
  return g.cached_image();
}
inline const std::string& NameOf(const v1::DiscoveryRecord& r) {
  return r.object().name();
}
inline const std::string& NameOf(const v1::FailedNode& r) {
  return r.node();
}
inline const std::string& NameOf(const std::string& s) {
  return s;
}

// After a failed status write, the least time before the next attempt.
constexpr int64_t kStatusRetryDelayMs = 5000;
// After a pod delete the server refused, the least time before the next attempt: it doubles with
// each refusal in a row, up to kMaxDeleteRetryDelayMs. Without RBAC's delete verb every finished
// pod is refused; at a fixed pause thousands of them would fill the executor's queue, ahead of
// the creates and status writes.
constexpr int64_t kDeleteRetryDelayMs = 5000;
constexpr int64_t kMaxDeleteRetryDelayMs = 5 * 60 * 1000;
inline int64_t DeleteRetryDelay(int32_t refusals) {
  const int doublings = std::clamp(refusals - 1, 0, 10);
  return std::min(kDeleteRetryDelayMs << doublings, kMaxDeleteRetryDelayMs);
}
// Least time between two status writes that only report progress.
constexpr int64_t kStatusMinIntervalMs = 2000;

template <typename T>
using List = google::protobuf::RepeatedPtrField<T>;

// Index of the first element whose name is not less than `name`.
template <typename T>
int LowerBound(const List<T>& list, std::string_view name) {
  auto it = std::lower_bound(list.begin(), list.end(), name,
                             [](const T& e, std::string_view n) { return NameOf(e) < n; });
  return static_cast<int>(it - list.begin());
}

template <typename T>
const T* Find(const List<T>& list, std::string_view name) {
  int i = LowerBound(list, name);
  return i < list.size() && NameOf(list[i]) == name ? &list[i] : nullptr;
}

template <typename T>
T* FindMutable(List<T>* list, std::string_view name) {
  int i = LowerBound(*list, name);
  return i < list->size() && NameOf(list->Get(i)) == name ? list->Mutable(i) : nullptr;
}

// The element named `name`, inserted (default-valued, name unset) at its sorted place if absent.
template <typename T>
T* Upsert(List<T>* list, std::string_view name, bool* inserted = nullptr) {
  int i = LowerBound(*list, name);
  bool found = i < list->size() && NameOf(list->Get(i)) == name;
  if (inserted != nullptr) *inserted = !found;
  if (found) return list->Mutable(i);
  list->Add();
  std::rotate(list->pointer_begin() + i, list->pointer_end() - 1, list->pointer_end());
  return list->Mutable(i);
}

template <typename T>
bool Erase(List<T>* list, std::string_view name) {
  int i = LowerBound(*list, name);
  if (i >= list->size() || NameOf(list->Get(i)) != name) return false;
  list->erase(list->begin() + i);
  return true;
}

inline bool Contains(const List<std::string>& sorted, std::string_view s) {
  return Find(sorted, s) != nullptr;
}

inline void InsertSorted(List<std::string>* sorted, std::string_view s) {
  bool inserted = false;
  std::string* slot = Upsert(sorted, s, &inserted);
  if (inserted) slot->assign(s);
}

// The sort key of a PodRecord: CachedImage, node and pod name, NUL-separated.
std::string PodKey(std::string_view cached_image, std::string_view node, std::string_view name);
inline std::string PodKey(const v1::Pod& pod) {
  return PodKey(pod.cached_image(), pod.node(), pod.name());
}

// The pod records of State.pod_groups, found by their CachedImage and key. UpsertPod's new record
// has its key set; ErasePod drops a group left empty, so equal states keep equal bytes.
const List<v1::PodRecord>& PodsOf(const v1::State& state, std::string_view cached_image);
const v1::PodRecord* FindPod(const v1::State& state, std::string_view cached_image,
                             std::string_view key);
v1::PodRecord* FindPodMutable(v1::State* state, std::string_view cached_image,
                              std::string_view key);
v1::PodRecord* UpsertPod(v1::State* state, std::string_view cached_image, std::string_view key,
                         bool* inserted = nullptr);
bool ErasePod(v1::State* state, std::string_view cached_image, std::string_view key);
int PodCount(const v1::State& state);

// Every pod record, by CachedImage, then node.
inline auto AllPods(const v1::State& state) {
  return state.pod_groups() |
         std::views::transform(
             [](const v1::PodGroup& g) -> const List<v1::PodRecord>& { return g.pods(); }) |
         std::views::join;
}

// A State of an older schema in this one's form (schema 1 kept every pod in one list).
void UpgradeState(v1::State* state);

// Whether every kind the operator watches has been listed and no relist is in progress: until
// then the state may be missing objects and the reconciler decides nothing.
bool Synced(const v1::State& state);

// The PullPolicy a CachedImage names: nullptr when it names one that does not exist. The built-in
// default policy (empty name) always exists.
const v1::PullPolicySpec* FindPolicySpec(const v1::State& state, std::string_view name);

// The built-in default policy: DESIGN.md section 1.
const v1::PullPolicySpec& DefaultPolicySpec();

// "PullPolicy gentle", or "the default PullPolicy" for the built-in one.
std::string PolicyDisplayName(std::string_view name);
// The built-in policy's name where names are listed (tables, keys, metric labels).
inline constexpr std::string_view kDefaultPolicyName = "(default)";
// A PullPolicy's name as listed: its own, or kDefaultPolicyName for the built-in one.
std::string PolicyName(std::string_view name);

bool operator<(const v1::Key& a, const v1::Key& b);
bool operator==(const v1::Key& a, const v1::Key& b);
v1::Key MakeKey(v1::ObjectKind kind, std::string_view name);
// The decision to emit an Event (type Normal or Warning) on object `name` of `kind`, unstamped.
v1::Entry MakeEvent(v1::ObjectKind kind, std::string_view name, std::string_view uid,
                    const char* type, const char* reason, std::string message);
std::string KeyString(const v1::Key& key);  // "cachedimage/web", "pullpolicy/gentle"

}  // namespace drop

namespace drop {

// The pending requeue of a key, or nullptr. State.requeues is sorted by key.
const v1::Requeue* FindRequeue(const v1::State& state, const v1::Key& key);
void SetRequeue(v1::State* state, const v1::Key& key, int64_t at_ms);
void ClearRequeue(v1::State* state, const v1::Key& key);
// Appends to *out the requeue of `key` at `wake`, unless one is set for then already; a wake of
// INT64_MAX is none.
void RequeueAt(const v1::State& state, const v1::Key& key, int64_t wake,
               std::vector<v1::Entry>* out);

}  // namespace drop
