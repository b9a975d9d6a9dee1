// Small builders for the core's projections and entries, so tests read as the scenario they set up.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <string>
#include <utility>

#include "core/image_ref.h"
#include "core/schema.h"

namespace drop::testing {

using Labels = std::initializer_list<std::pair<std::string, std::string>>;

inline void SetLabels(google::protobuf::RepeatedPtrField<v1::Label>* out, Labels labels) {
  for (const auto& [k, v] : labels) {
    v1::Label* l = out->Add();
    l->set_key(k);
    l->set_value(v);
  }
  std::sort(out->begin(), out->end(),
            [](const v1::Label& a, const v1::Label& b) { return a.key() < b.key(); });
}

struct NodeBuilder {
  v1::Node node;
  explicit NodeBuilder(std::string name) {
    node.set_uid("uid-" + name);
    node.set_name(std::move(name));
    node.set_ready(true);
  }
  NodeBuilder& Labels(testing::Labels l) {
    SetLabels(node.mutable_labels(), l);
    return *this;
  }
  NodeBuilder& Taint(std::string key, std::string value, std::string effect) {
    v1::Taint* t = node.add_taints();
    t->set_key(std::move(key));
    t->set_value(std::move(value));
    t->set_effect(std::move(effect));
    return *this;
  }
  NodeBuilder& NotReady() {
    node.set_ready(false);
    return *this;
  }
  NodeBuilder& Unschedulable() {
    node.set_unschedulable(true);
    return *this;
  }
  NodeBuilder& Image(const std::string& ref) {
    node.add_image_hashes(ImageMatchHash(ref));
    std::sort(node.mutable_image_hashes()->begin(), node.mutable_image_hashes()->end());
    return *this;
  }
  NodeBuilder& Uid(std::string uid) {
    node.set_uid(std::move(uid));
    return *this;
  }
  operator v1::Node() const { return node; }  // NOLINT
};

struct ImageBuilder {
  v1::CachedImage object;
  ImageBuilder(std::string name, std::string image) {
    object.set_uid("uid-" + name);
    object.set_name(std::move(name));
    object.set_generation(1);
    object.set_resource_version("1");
    object.mutable_spec()->set_image(std::move(image));
  }
  ImageBuilder& Selector(testing::Labels l) {
    SetLabels(object.mutable_spec()->mutable_node_selector(), l);
    return *this;
  }
  ImageBuilder& Policy(std::string name) {
    object.mutable_spec()->set_pull_policy_ref(std::move(name));
    return *this;
  }
  ImageBuilder& Tolerate(std::string key, std::string op, std::string value, std::string effect) {
    v1::Toleration* t = object.mutable_spec()->add_tolerations();
    t->set_key(std::move(key));
    t->set_operator_(std::move(op));
    t->set_value(std::move(value));
    t->set_effect(std::move(effect));
    return *this;
  }
  ImageBuilder& Secret(std::string name) {
    object.mutable_spec()->add_image_pull_secrets(std::move(name));
    return *this;
  }
  ImageBuilder& Generation(int64_t g) {
    object.set_generation(g);
    return *this;
  }
  operator v1::CachedImage() const { return object; }  // NOLINT
};

struct PolicyBuilder {
  v1::PullPolicy object;
  explicit PolicyBuilder(std::string name, int max_concurrent = 5, int64_t min_delay_ms = 0) {
    object.set_uid("uid-" + name);
    object.set_name(std::move(name));
    object.set_generation(1);
    v1::PullPolicySpec* s = object.mutable_spec();
    s->set_max_concurrent_nodes(max_concurrent);
    s->set_min_delay_between_pulls_ms(min_delay_ms);
    s->set_pull_timeout_ms(600'000);
    s->set_image_pull_policy("IfNotPresent");
    s->set_pod_ttl_after_finished_ms(600'000);
    v1::Backoff* b = s->mutable_backoff();
    b->set_initial_delay_ms(10'000);
    b->set_max_delay_ms(600'000);
    b->set_factor(2);
    b->set_max_consecutive_failures(5);
  }
  PolicyBuilder& Timeout(int64_t ms) {
    object.mutable_spec()->set_pull_timeout_ms(ms);
    return *this;
  }
  PolicyBuilder& Ttl(int64_t ms) {
    object.mutable_spec()->set_pod_ttl_after_finished_ms(ms);
    return *this;
  }
  PolicyBuilder& Always() {
    object.mutable_spec()->set_image_pull_policy("Always");
    return *this;
  }
  PolicyBuilder& Backoff(int64_t initial, int64_t max, double factor, int max_failures) {
    v1::Backoff* b = object.mutable_spec()->mutable_backoff();
    b->set_initial_delay_ms(initial);
    b->set_max_delay_ms(max);
    b->set_factor(factor);
    b->set_max_consecutive_failures(max_failures);
    return *this;
  }
  operator v1::PullPolicy() const { return object; }  // NOLINT
};

inline v1::Entry Watch(v1::EventType type, const v1::Node& n) {
  v1::Entry e;
  e.mutable_watch()->set_type(type);
  *e.mutable_watch()->mutable_node() = n;
  return e;
}
inline v1::Entry Watch(v1::EventType type, const v1::CachedImage& o) {
  v1::Entry e;
  e.mutable_watch()->set_type(type);
  *e.mutable_watch()->mutable_cached_image() = o;
  return e;
}
inline v1::Entry Watch(v1::EventType type, const v1::PullPolicy& o) {
  v1::Entry e;
  e.mutable_watch()->set_type(type);
  *e.mutable_watch()->mutable_pull_policy() = o;
  return e;
}
inline v1::Entry Watch(v1::EventType type, const v1::Pod& o) {
  v1::Entry e;
  e.mutable_watch()->set_type(type);
  *e.mutable_watch()->mutable_pod() = o;
  return e;
}
inline v1::Entry RelistBegin(v1::ObjectKind kind) {
  v1::Entry e;
  e.mutable_relist_begin()->set_kind(kind);
  return e;
}
inline v1::Entry RelistEnd(v1::ObjectKind kind) {
  v1::Entry e;
  e.mutable_relist_end()->set_kind(kind);
  return e;
}
inline v1::Entry Started(std::initializer_list<v1::ObjectKind> watches = {
                             v1::KIND_NODE, v1::KIND_CACHED_IMAGE, v1::KIND_PULL_POLICY,
                             v1::KIND_POD}) {
  v1::Entry e;
  v1::OperatorConfig* c = e.mutable_started()->mutable_config();
  c->set_namespace_("drop-system");
  c->set_init_image("registry.local/drop/operator:test");
  c->set_version("test");
  c->set_identity("test-0");
  for (v1::ObjectKind k : watches)
    c->add_watches(k);
  return e;
}
inline v1::Entry Timer(v1::ObjectKind kind, std::string name) {
  v1::Entry e;
  e.mutable_timer()->mutable_key()->set_kind(kind);
  e.mutable_timer()->mutable_key()->set_name(std::move(name));
  return e;
}

// The executor's answer to a CreatePod action.
inline v1::Entry CreateResult(const v1::Entry& create, std::string reason, int http_code,
                              std::string message = "") {
  const v1::DropPodSpec& pod = create.action().create_pod().pod();
  v1::Entry e;
  v1::ActionResult* r = e.mutable_action_result();
  r->set_action_seq(create.seq());
  r->set_kind(v1::ACTION_CREATE_POD);
  r->set_target(pod.name());
  r->set_cached_image(pod.cached_image());
  r->set_node(pod.node());
  r->set_ok(http_code / 100 == 2);
  r->set_reason(std::move(reason));
  r->set_http_code(http_code);
  r->set_message(std::move(message));
  return e;
}

}  // namespace drop::testing
