#include "core/state.h"

#include <algorithm>
#include <limits>

#include "core/duration.h"

namespace drop {

std::string PodKey(std::string_view cached_image, std::string_view node, std::string_view name) {
  std::string key;
  key.reserve(cached_image.size() + node.size() + name.size() + 2);
  key.append(cached_image).push_back('\0');
  key.append(node).push_back('\0');
  key.append(name);
  return key;
}

const List<v1::PodRecord>& PodsOf(const v1::State& state, std::string_view cached_image) {
  const v1::PodGroup* group = Find(state.pod_groups(), cached_image);
  return group != nullptr ? group->pods() : v1::PodGroup::default_instance().pods();
}

const v1::PodRecord* FindPod(const v1::State& state, std::string_view cached_image,
                             std::string_view key) {
  return Find(PodsOf(state, cached_image), key);
}

v1::PodRecord* FindPodMutable(v1::State* state, std::string_view cached_image,
                              std::string_view key) {
  v1::PodGroup* group = FindMutable(state->mutable_pod_groups(), cached_image);
  return group != nullptr ? FindMutable(group->mutable_pods(), key) : nullptr;
}

v1::PodRecord* UpsertPod(v1::State* state, std::string_view cached_image, std::string_view key,
                         bool* inserted) {
  bool added = false;
  v1::PodGroup* group = Upsert(state->mutable_pod_groups(), cached_image, &added);
  if (added) group->set_cached_image(std::string(cached_image));
  v1::PodRecord* r = Upsert(group->mutable_pods(), key, &added);
  if (added) r->set_key(std::string(key));
  if (inserted != nullptr) *inserted = added;
  return r;
}

bool ErasePod(v1::State* state, std::string_view cached_image, std::string_view key) {
  v1::PodGroup* group = FindMutable(state->mutable_pod_groups(), cached_image);
  if (group == nullptr || !Erase(group->mutable_pods(), key)) return false;
  if (group->pods().empty()) Erase(state->mutable_pod_groups(), cached_image);
  return true;
}

int PodCount(const v1::State& state) {
  int n = 0;
  for (const v1::PodGroup& g : state.pod_groups())
    n += g.pods_size();
  return n;
}

void UpgradeState(v1::State* state) {
  // Schema 1's list is sorted by key, which begins with the CachedImage: each image's pods are a
  // run of it, and the runs come in the groups' order.
  v1::PodGroup* group = nullptr;
  for (v1::PodRecord& r : *state->mutable_legacy_pods()) {
    if (group == nullptr || group->cached_image() != r.pod().cached_image()) {
      group = state->add_pod_groups();
      group->set_cached_image(r.pod().cached_image());
    }
    group->mutable_pods()->Add(std::move(r));
  }
  state->clear_legacy_pods();
  state->set_schema_version(kSchemaVersion);
}

bool Synced(const v1::State& state) {
  if (state.relisting_size() > 0) return false;
  for (int kind : state.config().watches()) {
    if (std::find(state.synced().begin(), state.synced().end(), kind) == state.synced().end()) {
      return false;
    }
  }
  return true;
}

const v1::PullPolicySpec& DefaultPolicySpec() {
  static const v1::PullPolicySpec* spec = [] {
    auto* s = new v1::PullPolicySpec();  // never destroyed: a constant
    s->set_max_concurrent_nodes(5);
    s->set_min_delay_between_pulls_ms(10 * kSecond);
    s->set_pull_timeout_ms(10 * kMinute);
    s->set_image_pull_policy("IfNotPresent");
    s->set_pod_ttl_after_finished_ms(10 * kMinute);
    v1::Backoff* b = s->mutable_backoff();
    b->set_initial_delay_ms(10 * kSecond);
    b->set_max_delay_ms(10 * kMinute);
    b->set_factor(2);
    b->set_max_consecutive_failures(5);
    return s;
  }();
  return *spec;
}

const v1::PullPolicySpec* FindPolicySpec(const v1::State& state, std::string_view name) {
  if (name.empty()) return &DefaultPolicySpec();
  const v1::PolicyRecord* p = Find(state.policies(), name);
  return p == nullptr ? nullptr : &p->object().spec();
}

std::string PolicyDisplayName(std::string_view name) {
  return name.empty() ? "the default PullPolicy" : "PullPolicy " + std::string(name);
}

std::string PolicyName(std::string_view name) {
  return std::string(name.empty() ? kDefaultPolicyName : name);
}

bool operator<(const v1::Key& a, const v1::Key& b) {
  if (a.kind() != b.kind()) return a.kind() < b.kind();
  return a.name() < b.name();
}

bool operator==(const v1::Key& a, const v1::Key& b) {
  return a.kind() == b.kind() && a.name() == b.name();
}

v1::Key MakeKey(v1::ObjectKind kind, std::string_view name) {
  v1::Key key;
  key.set_kind(kind);
  key.set_name(std::string(name));
  return key;
}

v1::Entry MakeEvent(v1::ObjectKind kind, std::string_view name, std::string_view uid,
                    const char* type, const char* reason, std::string message) {
  v1::Entry e;
  v1::EmitEvent* ev = e.mutable_action()->mutable_emit_event();
  ev->set_kind(kind);
  ev->set_name(std::string(name));
  ev->set_uid(std::string(uid));
  ev->set_type(type);
  ev->set_reason(reason);
  ev->set_message(std::move(message));
  return e;
}

std::string KeyString(const v1::Key& key) {
  switch (key.kind()) {
    case v1::KIND_CACHED_IMAGE:
      return "cachedimage/" + key.name();
    case v1::KIND_PULL_POLICY:
      return "pullpolicy/" + PolicyName(key.name());
    case v1::KIND_DISCOVERY_POLICY:
      return "discoverypolicy/" + key.name();
    case v1::KIND_NODE:
      return "node/" + key.name();
    case v1::KIND_POD:
      return "pod/" + key.name();
    default:
      return "unknown/" + key.name();
  }
}

}  // namespace drop

namespace drop {
namespace {

int RequeueIndex(const v1::State& state, const v1::Key& key) {
  auto it = std::lower_bound(state.requeues().begin(), state.requeues().end(), key,
                             [](const v1::Requeue& r, const v1::Key& k) { return r.key() < k; });
  return static_cast<int>(it - state.requeues().begin());
}

}  // namespace

const v1::Requeue* FindRequeue(const v1::State& state, const v1::Key& key) {
  int i = RequeueIndex(state, key);
  return i < state.requeues_size() && state.requeues(i).key() == key ? &state.requeues(i) : nullptr;
}

void SetRequeue(v1::State* state, const v1::Key& key, int64_t at_ms) {
  int i = RequeueIndex(*state, key);
  auto* list = state->mutable_requeues();
  if (i >= list->size() || !(list->Get(i).key() == key)) {
    list->Add();
    std::rotate(list->pointer_begin() + i, list->pointer_end() - 1, list->pointer_end());
    *list->Mutable(i)->mutable_key() = key;
  }
  list->Mutable(i)->set_at_ms(at_ms);
}

void ClearRequeue(v1::State* state, const v1::Key& key) {
  int i = RequeueIndex(*state, key);
  if (i < state->requeues_size() && state->requeues(i).key() == key) {
    state->mutable_requeues()->erase(state->mutable_requeues()->begin() + i);
  }
}

void RequeueAt(const v1::State& state, const v1::Key& key, int64_t wake,
               std::vector<v1::Entry>* out) {
  const v1::Requeue* pending = FindRequeue(state, key);
  if (wake == std::numeric_limits<int64_t>::max() ||
      (pending != nullptr && pending->at_ms() == wake)) {
    return;
  }
  v1::Entry requeue;
  v1::RequeueAt* r = requeue.mutable_action()->mutable_requeue();
  *r->mutable_key() = key;
  r->set_at_ms(wake);
  out->push_back(std::move(requeue));
}

}  // namespace drop
