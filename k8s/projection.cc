#include "k8s/projection.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <map>
#include <stdexcept>
#include <utility>
#include <vector>

#include "core/drop_pod.h"
#include "core/duration.h"
#include "core/hash.h"
#include "core/image_ref.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "k8s/json_util.h"

namespace drop::k8s {

namespace json = boost::json;
using google::protobuf::RepeatedPtrField;

namespace {

int64_t TimeMs(std::string_view text) {
  if (text.empty()) return 0;
  Result<int64_t> t = ParseTime(text);
  return t.ok() ? *t : 0;
}

// A map of strings (labels, a nodeSelector) as a list sorted by key.
void SortedLabels(const json::object* map, RepeatedPtrField<v1::Label>* out) {
  if (map == nullptr || map->empty()) return;
  std::vector<std::pair<std::string_view, std::string_view>> kv;
  kv.reserve(map->size());
  for (const json::key_value_pair& p : *map) {
    const json::string* v = p.value().if_string();
    kv.emplace_back(p.key(), v != nullptr ? std::string_view(*v) : std::string_view());
  }
  std::sort(kv.begin(), kv.end());
  out->Reserve(static_cast<int>(kv.size()));
  for (const auto& [k, v] : kv) {
    v1::Label* l = out->Add();
    l->set_key(std::string(k));
    l->set_value(std::string(v));
  }
}

std::string_view Label(const json::object* meta, std::string_view key) {
  return GetString(GetObject(meta, "labels"), key);
}

void ProjectTolerations(const json::array* list, RepeatedPtrField<v1::Toleration>* out) {
  if (list == nullptr) return;
  for (const json::value& v : *list) {
    const json::object* t = v.if_object();
    if (t == nullptr) continue;
    v1::Toleration* o = out->Add();
    o->set_key(std::string(GetString(t, "key")));
    o->set_operator_(std::string(GetString(t, "operator")));
    o->set_value(std::string(GetString(t, "value")));
    o->set_effect(std::string(GetString(t, "effect")));
    if (const json::value* s = t->if_contains("tolerationSeconds"); s != nullptr && !s->is_null()) {
      o->set_has_toleration_seconds(true);
      o->set_toleration_seconds(GetInt(t, "tolerationSeconds"));
    }
  }
}

void ProjectPullSecrets(const json::array* list, RepeatedPtrField<std::string>* out) {
  if (list == nullptr) return;
  for (const json::value& v : *list) {
    if (const json::object* s = v.if_object()) out->Add(std::string(GetString(s, "name")));
  }
}

v1::Condition ProjectCondition(const json::object& c) {
  v1::Condition o;
  o.set_type(std::string(GetString(c, "type")));
  o.set_status(std::string(GetString(c, "status")));
  o.set_reason(std::string(GetString(c, "reason")));
  o.set_message(std::string(GetString(c, "message")));
  o.set_last_transition_time_ms(TimeMs(GetString(c, "lastTransitionTime")));
  o.set_observed_generation(GetInt(&c, "observedGeneration"));
  return o;
}

// Reads the fields of a policy spec, remembering the first that cannot be read: spec_error
// names the object, the field and the fix.
class SpecReader {
 public:
  explicit SpecReader(std::string who) : who_(std::move(who)) {}

  const std::string& error() const { return error_; }

  // A Go duration string at spec.<path>; `*ms` is left alone when absent or unreadable.
  void Duration(const json::object* parent, std::string_view key, std::string_view path,
                int64_t* ms) {
    const json::value* v = parent != nullptr ? parent->if_contains(key) : nullptr;
    if (v == nullptr || v->is_null()) return;
    const json::string* s = v->if_string();
    if (s == nullptr) {
      Fail(path, "expected a duration such as \"10m\" or \"90s\", not " + json::serialize(*v));
      return;
    }
    Result<int64_t> d = ParseDuration(*s);
    if (!d.ok()) {
      Fail(path, d.status().message());
      return;
    }
    *ms = *d;
  }

  template <typename Int>
  void Integer(const json::object* parent, std::string_view key, std::string_view path, Int* out) {
    const json::value* v = parent != nullptr ? parent->if_contains(key) : nullptr;
    if (v == nullptr || v->is_null()) return;
    // The API server does not enforce an int32 format: 99999999999 arrives as it was written.
    if (v->is_int64() && std::in_range<Int>(v->get_int64())) {
      *out = static_cast<Int>(v->get_int64());
    } else if (v->is_uint64() && std::in_range<Int>(v->get_uint64())) {
      *out = static_cast<Int>(v->get_uint64());
    } else if (v->is_int64() || v->is_uint64()) {
      Fail(path, json::serialize(*v) + " is out of range: it takes whole numbers from " +
                     std::to_string(std::numeric_limits<Int>::min()) + " to " +
                     std::to_string(std::numeric_limits<Int>::max()));
    } else {
      Fail(path, "expected a whole number, not " + json::serialize(*v));
    }
  }

  void Number(const json::object* parent, std::string_view key, std::string_view path,
              double* out) {
    const json::value* v = parent != nullptr ? parent->if_contains(key) : nullptr;
    if (v == nullptr || v->is_null()) return;
    if (v->is_double()) {
      *out = v->get_double();
    } else if (v->is_int64()) {
      *out = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
      *out = static_cast<double>(v->get_uint64());
    } else if (const json::string* s = v->if_string()) {
      // A quantity written as a string ("1.5"): read it, as the API's number types would.
      double d = 0;
      auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), d);
      if (ec == std::errc() && end == s->data() + s->size()) {
        *out = d;
      } else {
        Fail(path, "expected a number, not " + json::serialize(*v));
      }
    } else {
      Fail(path, "expected a number, not " + json::serialize(*v));
    }
  }

  void String(const json::object* parent, std::string_view key, std::string_view path,
              std::string* out) {
    const json::value* v = parent != nullptr ? parent->if_contains(key) : nullptr;
    if (v == nullptr || v->is_null()) return;
    if (const json::string* s = v->if_string()) {
      *out = std::string(*s);
    } else {
      Fail(path, "expected a string, not " + json::serialize(*v));
    }
  }

  void Bool(const json::object* parent, std::string_view key, std::string_view path, bool* out) {
    const json::value* v = parent != nullptr ? parent->if_contains(key) : nullptr;
    if (v == nullptr || v->is_null()) return;
    if (v->is_bool()) {
      *out = v->get_bool();
    } else {
      Fail(path, "expected true or false, not " + json::serialize(*v));
    }
  }

 private:
  void Fail(std::string_view path, const std::string& why) {
    if (!error_.empty()) return;
    error_ = who_ + ": spec." + std::string(path) + ": " + why + "; fix the field or remove it";
  }

  std::string who_;
  std::string error_;
};

}  // namespace

v1::Node ProjectNode(const json::object& node) {
  v1::Node out;
  const json::object* meta = GetObject(node, "metadata");
  out.set_name(std::string(GetString(meta, "name")));
  out.set_uid(std::string(GetString(meta, "uid")));
  SortedLabels(GetObject(meta, "labels"), out.mutable_labels());
  const json::object* spec = GetObject(node, "spec");
  out.set_unschedulable(GetBool(spec, "unschedulable"));
  if (const json::array* taints = GetArray(spec, "taints")) {
    for (const json::value& v : *taints) {
      const json::object* t = v.if_object();
      if (t == nullptr) continue;
      v1::Taint* o = out.add_taints();
      o->set_key(std::string(GetString(t, "key")));
      o->set_value(std::string(GetString(t, "value")));
      o->set_effect(std::string(GetString(t, "effect")));
    }
  }
  const json::object* status = GetObject(node, "status");
  if (const json::array* conditions = GetArray(status, "conditions")) {
    for (const json::value& v : *conditions) {
      const json::object* c = v.if_object();
      if (c != nullptr && GetString(c, "type") == "Ready") {
        out.set_ready(GetString(c, "status") == "True");
      }
    }
  }
  if (const json::array* images = GetArray(status, "images")) {
    std::vector<uint64_t> hashes;
    hashes.reserve(images->size() * 2);
    for (const json::value& v : *images) {
      const json::array* names = GetArray(v.if_object(), "names");
      if (names == nullptr) continue;
      for (const json::value& n : *names) {
        const json::string* s = n.if_string();
        if (s == nullptr) continue;
        uint64_t h = ImageMatchHash(*s);
        if (h != 0) hashes.push_back(h);
      }
    }
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    out.mutable_image_hashes()->Add(hashes.begin(), hashes.end());
  }
  return out;
}

v1::Pod ProjectPod(const json::object& pod) {
  v1::Pod out;
  const json::object* meta = GetObject(pod, "metadata");
  out.set_name(std::string(GetString(meta, "name")));
  out.set_uid(std::string(GetString(meta, "uid")));
  out.set_cached_image(std::string(Label(meta, kCachedImageLabel)));
  std::string_view generation = GetString(GetObject(meta, "annotations"), kGenerationAnnotation);
  int64_t g = 0;
  std::from_chars(generation.data(), generation.data() + generation.size(), g);
  out.set_generation(g);
  out.set_creation_time_ms(TimeMs(GetString(meta, "creationTimestamp")));
  out.set_deleting(meta != nullptr && meta->contains("deletionTimestamp") &&
                   !meta->at("deletionTimestamp").is_null());

  const json::object* spec = GetObject(pod, "spec");
  std::string_view node = GetString(spec, "nodeName");
  if (node.empty()) {
    // Not bound yet: the node it is pinned to by required node affinity on metadata.name.
    const json::object* required = GetObject(GetObject(GetObject(spec, "affinity"), "nodeAffinity"),
                                             "requiredDuringSchedulingIgnoredDuringExecution");
    if (const json::array* terms = GetArray(required, "nodeSelectorTerms")) {
      for (const json::value& term : *terms) {
        const json::array* fields = GetArray(term.if_object(), "matchFields");
        if (fields == nullptr) continue;
        for (const json::value& f : *fields) {
          const json::object* r = f.if_object();
          if (r == nullptr || GetString(r, "key") != "metadata.name") continue;
          const json::array* values = GetArray(r, "values");
          if (values != nullptr && !values->empty() && values->front().is_string()) {
            node = values->front().get_string();
          }
        }
        if (!node.empty()) break;
      }
    }
  }
  out.set_node(std::string(node));

  // The target container: the one named kTargetContainer, else the first.
  std::string_view main_name;
  if (const json::array* containers = GetArray(spec, "containers")) {
    const json::object* chosen = nullptr;
    for (const json::value& c : *containers) {
      const json::object* o = c.if_object();
      if (o != nullptr && GetString(o, "name") == kTargetContainer) chosen = o;
    }
    if (chosen == nullptr && !containers->empty()) chosen = containers->front().if_object();
    main_name = GetString(chosen, "name");
    out.set_image(std::string(GetString(chosen, "image")));
  }

  const json::object* status = GetObject(pod, "status");
  std::string_view phase = GetString(status, "phase");
  out.set_phase(phase == "Pending"     ? v1::POD_PENDING
                : phase == "Running"   ? v1::POD_RUNNING
                : phase == "Succeeded" ? v1::POD_SUCCEEDED
                : phase == "Failed"    ? v1::POD_FAILED
                                       : v1::POD_PHASE_UNKNOWN);
  out.set_start_time_ms(TimeMs(GetString(status, "startTime")));

  const json::array* lists[] = {GetArray(status, "initContainerStatuses"),
                                GetArray(status, "containerStatuses")};
  const json::object* waiting = nullptr;
  const json::object* failed = nullptr;    // the first to terminate non-zero
  const json::object* main_end = nullptr;  // the target container's termination
  for (const json::array* list : lists) {
    if (list == nullptr) continue;
    for (const json::value& v : *list) {
      const json::object* cs = v.if_object();
      const json::object* state = GetObject(cs, "state");
      if (state == nullptr) continue;
      if (waiting == nullptr) waiting = GetObject(state, "waiting");
      if (const json::object* t = GetObject(state, "terminated")) {
        if (failed == nullptr && GetInt(t, "exitCode") != 0) failed = t;
        if (list == lists[1] && GetString(cs, "name") == main_name) main_end = t;
      }
    }
  }
  if (waiting != nullptr) {
    out.set_waiting_reason(std::string(GetString(waiting, "reason")));
    out.set_waiting_message(std::string(GetString(waiting, "message")));
  }
  if (const json::object* t = failed != nullptr ? failed : main_end) {
    out.set_terminated_reason(std::string(GetString(t, "reason")));
    out.set_terminated_message(std::string(GetString(t, "message")));
    out.set_exit_code(static_cast<int32_t>(GetInt(t, "exitCode")));
    out.set_finish_time_ms(TimeMs(GetString(t, "finishedAt")));
  }
  return out;
}

v1::CachedImage ProjectCachedImage(const json::object& image) {
  v1::CachedImage out;
  const json::object* meta = GetObject(image, "metadata");
  out.set_name(std::string(GetString(meta, "name")));
  out.set_uid(std::string(GetString(meta, "uid")));
  out.set_generation(GetInt(meta, "generation"));
  out.set_resource_version(std::string(GetString(meta, "resourceVersion")));
  out.set_deleting(meta != nullptr && meta->contains("deletionTimestamp") &&
                   !meta->at("deletionTimestamp").is_null());
  out.set_discovery_policy(std::string(Label(meta, kDiscoveryPolicyLabel)));

  const json::object* spec = GetObject(image, "spec");
  v1::CachedImageSpec* s = out.mutable_spec();
  s->set_image(std::string(GetString(spec, "image")));
  SortedLabels(GetObject(spec, "nodeSelector"), s->mutable_node_selector());
  ProjectTolerations(GetArray(spec, "tolerations"), s->mutable_tolerations());
  ProjectPullSecrets(GetArray(spec, "imagePullSecrets"), s->mutable_image_pull_secrets());
  s->set_pull_policy_ref(std::string(GetString(GetObject(spec, "pullPolicyRef"), "name")));

  if (const json::object* status = GetObject(image, "status")) {
    v1::CachedImageStatus* st = out.mutable_status();
    st->set_observed_generation(GetInt(status, "observedGeneration"));
    st->set_phase(std::string(GetString(status, "phase")));
    st->set_nodes_targeted(static_cast<int32_t>(GetInt(status, "nodesTargeted")));
    st->set_nodes_ready(static_cast<int32_t>(GetInt(status, "nodesReady")));
    st->set_consecutive_failures(static_cast<int32_t>(GetInt(status, "consecutiveFailures")));
    st->set_next_pull_time_ms(TimeMs(GetString(status, "nextPullTime")));
    if (const json::array* conditions = GetArray(status, "conditions")) {
      for (const json::value& c : *conditions) {
        if (const json::object* o = c.if_object()) *st->add_conditions() = ProjectCondition(*o);
      }
    }
    // The node list itself stays out; its digest stands in, as in the status drop writes
    // (CachedImageStatus.cached_nodes_digest), so an unchanged list compares equal.
    uint64_t h = kEmptyCachedNodesDigest;
    if (const json::array* nodes = GetArray(status, "cachedNodes")) {
      for (const json::value& n : *nodes) {
        if (const json::string* name = n.if_string()) h = CachedNodesDigestStep(h, *name);
      }
    }
    st->set_cached_nodes_digest(h);
  }
  return out;
}

v1::PullPolicy ProjectPullPolicy(const json::object& policy) {
  v1::PullPolicy out;
  const json::object* meta = GetObject(policy, "metadata");
  out.set_name(std::string(GetString(meta, "name")));
  out.set_uid(std::string(GetString(meta, "uid")));
  out.set_generation(GetInt(meta, "generation"));
  v1::PullPolicySpec* s = out.mutable_spec();
  *s = DefaultPolicySpec();
  const json::object* spec = GetObject(policy, "spec");
  SpecReader read("PullPolicy " + out.name());
  int32_t max_concurrent = s->max_concurrent_nodes();
  read.Integer(spec, "maxConcurrentNodes", "maxConcurrentNodes", &max_concurrent);
  s->set_max_concurrent_nodes(max_concurrent);
  int64_t ms = s->min_delay_between_pulls_ms();
  read.Duration(spec, "minDelayBetweenPulls", "minDelayBetweenPulls", &ms);
  s->set_min_delay_between_pulls_ms(ms);
  ms = s->pull_timeout_ms();
  read.Duration(spec, "pullTimeout", "pullTimeout", &ms);
  s->set_pull_timeout_ms(ms);
  std::string ipp = s->image_pull_policy();
  read.String(spec, "imagePullPolicy", "imagePullPolicy", &ipp);
  s->set_image_pull_policy(ipp);
  ms = s->pod_ttl_after_finished_ms();
  read.Duration(spec, "podTTLAfterFinished", "podTTLAfterFinished", &ms);
  s->set_pod_ttl_after_finished_ms(ms);
  const json::object* backoff = GetObject(spec, "backoff");
  v1::Backoff* b = s->mutable_backoff();
  ms = b->initial_delay_ms();
  read.Duration(backoff, "initialDelay", "backoff.initialDelay", &ms);
  b->set_initial_delay_ms(ms);
  ms = b->max_delay_ms();
  read.Duration(backoff, "maxDelay", "backoff.maxDelay", &ms);
  b->set_max_delay_ms(ms);
  double factor = b->factor();
  read.Number(backoff, "factor", "backoff.factor", &factor);
  b->set_factor(factor);
  int32_t failures = b->max_consecutive_failures();
  read.Integer(backoff, "maxConsecutiveFailures", "backoff.maxConsecutiveFailures", &failures);
  b->set_max_consecutive_failures(failures);
  out.set_spec_error(read.error());
  return out;
}

v1::DiscoveryPolicy ProjectDiscoveryPolicy(const json::object& policy) {
  v1::DiscoveryPolicy out;
  const json::object* meta = GetObject(policy, "metadata");
  out.set_name(std::string(GetString(meta, "name")));
  out.set_uid(std::string(GetString(meta, "uid")));
  out.set_generation(GetInt(meta, "generation"));
  out.set_resource_version(std::string(GetString(meta, "resourceVersion")));
  const json::object* spec = GetObject(policy, "spec");
  SpecReader read("DiscoveryPolicy " + out.name());
  v1::DiscoveryPolicySpec* s = out.mutable_spec();
  int64_t interval = kDefaultDiscoveryIntervalMs;
  read.Duration(spec, "interval", "interval", &interval);
  s->set_interval_ms(interval);
  int32_t max_images = kDefaultDiscoveryMaxImages;
  read.Integer(spec, "maxImages", "maxImages", &max_images);
  s->set_max_images(max_images);
  bool prune = false;
  read.Bool(spec, "prune", "prune", &prune);
  s->set_prune(prune);
  if (const json::array* sources = GetArray(spec, "sources")) {
    for (size_t i = 0; i < sources->size(); ++i) {
      const json::object* src = (*sources)[i].if_object();
      if (src == nullptr) continue;
      const std::string at = "sources[" + std::to_string(i) + "]";
      v1::DiscoverySource* d = s->add_sources();
      std::string name;
      read.String(src, "name", at + ".name", &name);
      d->set_name(name);
      if (const json::object* prom = GetObject(src, "prometheus")) {
        v1::PrometheusSource* p = d->mutable_prometheus();
        std::string url, query, label = "image";
        read.String(prom, "url", at + ".prometheus.url", &url);
        read.String(prom, "query", at + ".prometheus.query", &query);
        read.String(prom, "imageLabel", at + ".prometheus.imageLabel", &label);
        p->set_url(url);
        p->set_query(query);
        p->set_image_label(label.empty() ? "image" : label);
      }
    }
  }
  if (const json::array* exclude = GetArray(spec, "exclude")) {
    for (const json::value& e : *exclude) {
      if (const json::string* g = e.if_string()) s->add_exclude(std::string(*g));
    }
  }
  if (const json::object* t = GetObject(spec, "template")) {
    v1::DiscoveryTemplate* o = s->mutable_template_();
    SortedLabels(GetObject(t, "nodeSelector"), o->mutable_node_selector());
    ProjectTolerations(GetArray(t, "tolerations"), o->mutable_tolerations());
    ProjectPullSecrets(GetArray(t, "imagePullSecrets"), o->mutable_image_pull_secrets());
    o->set_pull_policy_ref(std::string(GetString(GetObject(t, "pullPolicyRef"), "name")));
  }
  out.set_spec_error(read.error());
  return out;
}

namespace {

// The fields each projection above reads, in JsonSelection's syntax. A field read but not listed
// here would read as absent: projection_test projects recorded objects both ways and compares.
std::string FieldsRead(v1::ObjectKind kind) {
  switch (kind) {
    case v1::KIND_CACHED_IMAGE:
      return "metadata{name uid generation resourceVersion deletionTimestamp labels} spec status";
    case v1::KIND_PULL_POLICY:
    case v1::KIND_DISCOVERY_POLICY:
      return "metadata{name uid generation resourceVersion} spec";
    case v1::KIND_NODE:
      return "metadata{name uid resourceVersion labels} spec{unschedulable taints} "
             "status{conditions{type status} images{names}}";
    case v1::KIND_POD:
      return "metadata{name uid resourceVersion creationTimestamp deletionTimestamp labels{" +
             std::string(kCachedImageLabel) + "} annotations{" +
             std::string(kGenerationAnnotation) +
             "}} spec{nodeName "
             "affinity{nodeAffinity{requiredDuringSchedulingIgnoredDuringExecution}}"
             " containers{name image}} status{phase startTime initContainerStatuses{name state} "
             "containerStatuses{name state}}";
    default:
      return "";
  }
}

struct Selections {
  JsonSelection object, event, list;
};

const Selections& SelectionsFor(v1::ObjectKind kind) {
  static const std::map<v1::ObjectKind, Selections>* const kByKind = [] {
    auto parse = [](const std::string& text) {
      Result<JsonSelection> s = JsonSelection::Parse(text);
      if (!s.ok()) throw std::logic_error("projection: " + s.status().message());
      return std::move(*s);
    };
    auto* by_kind = new std::map<v1::ObjectKind, Selections>;
    for (v1::ObjectKind kind : {v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY,
                                v1::KIND_DISCOVERY_POLICY, v1::KIND_NODE, v1::KIND_POD}) {
      std::string fields = FieldsRead(kind);
      (*by_kind)[kind] =
          Selections{parse(fields), parse("type object{" + fields + " code reason message}"),
                     parse("metadata{resourceVersion continue} items{" + fields + "}")};
    }
    return by_kind;
  }();
  static const Selections kEverything;
  auto it = kByKind->find(kind);
  return it != kByKind->end() ? it->second : kEverything;
}

}  // namespace

const JsonSelection& ProjectedFields(v1::ObjectKind kind) {
  return SelectionsFor(kind).object;
}
const JsonSelection& ProjectedWatchEventFields(v1::ObjectKind kind) {
  return SelectionsFor(kind).event;
}
const JsonSelection& ProjectedListFields(v1::ObjectKind kind) {
  return SelectionsFor(kind).list;
}

bool ProjectInto(v1::ObjectKind kind, const json::object& object, v1::WatchEvent* event) {
  switch (kind) {
    case v1::KIND_CACHED_IMAGE:
      *event->mutable_cached_image() = ProjectCachedImage(object);
      return true;
    case v1::KIND_PULL_POLICY:
      *event->mutable_pull_policy() = ProjectPullPolicy(object);
      return true;
    case v1::KIND_DISCOVERY_POLICY:
      *event->mutable_discovery_policy() = ProjectDiscoveryPolicy(object);
      return true;
    case v1::KIND_NODE:
      *event->mutable_node() = ProjectNode(object);
      return true;
    case v1::KIND_POD:
      *event->mutable_pod() = ProjectPod(object);
      return true;
    default:
      return false;
  }
}

}  // namespace drop::k8s
