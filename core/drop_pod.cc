#include "core/drop_pod.h"

#include <algorithm>
#include <cstdio>

#include "core/chars.h"
#include "core/hash.h"
#include "core/validation.h"

namespace drop {
namespace {

std::string Hex(uint64_t h, int digits) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string(buf + 16 - digits);
}

void AddLabel(google::protobuf::RepeatedPtrField<v1::Label>* list, std::string_view k,
              std::string_view v) {
  v1::Label* l = list->Add();
  l->set_key(std::string(k));
  l->set_value(std::string(v));
}

}  // namespace

std::string DropPodName(std::string_view cached_image, std::string_view node, int64_t generation) {
  uint64_t h = Fnv1a64(node);
  h = Fnv1a64("\n", h);
  h = Fnv1a64(std::to_string(generation), h);
  return "drop-" + std::string(cached_image) + "-" + Hex(h, 10);
}

std::string LabelValue(std::string_view s) {
  if (IsLabelValue(s)) return std::string(s);
  // Keep a readable prefix of valid characters and make it unique with a hash of the whole.
  std::string prefix;
  for (char c : s) {
    bool ok = IsAlnum(c) || c == '-' || c == '_' || c == '.';
    if (ok && prefix.size() < 52) prefix += c;
  }
  while (!prefix.empty() && !IsLabelValue(prefix.substr(0, 1)))
    prefix.erase(0, 1);
  return (prefix.empty() ? "x" : prefix) + "-" + Hex(Fnv1a64(s), 10);
}

v1::DropPodSpec MakeDropPod(const v1::OperatorConfig& config, const v1::CachedImage& image,
                            const v1::PullPolicySpec& policy, std::string_view node) {
  v1::DropPodSpec pod;
  pod.set_namespace_(config.namespace_().empty() ? std::string(kDefaultNamespace)
                                                 : config.namespace_());
  pod.set_name(DropPodName(image.name(), node, image.generation()));
  // Sorted by key.
  AddLabel(pod.mutable_labels(), kManagedByLabel, kManagedByValue);
  AddLabel(pod.mutable_labels(), kCachedImageLabel, image.name());
  AddLabel(pod.mutable_labels(), kNodeLabel, LabelValue(node));
  AddLabel(pod.mutable_annotations(), kGenerationAnnotation, std::to_string(image.generation()));
  pod.set_node(std::string(node));
  pod.set_cached_image(image.name());
  pod.set_cached_image_uid(image.uid());
  pod.set_generation(image.generation());
  pod.set_image(image.spec().image());
  pod.set_image_pull_policy(policy.image_pull_policy());
  pod.set_init_image(config.init_image());
  pod.set_noop_path(config.noop_path().empty() ? std::string(kNoopPathInOperatorImage)
                                               : config.noop_path());
  *pod.mutable_tolerations() = image.spec().tolerations();
  *pod.mutable_image_pull_secrets() = image.spec().image_pull_secrets();
  // The pod runs nothing but a static no-op, so it asks for next to nothing and may do nothing:
  // non-root (the distroless "nonroot" uid), read-only, no capabilities. Requests are what the
  // scheduler reserves; limits stop a misbehaving image from taking more.
  pod.set_run_as_user(65532);
  pod.set_cpu_request("1m");
  pod.set_memory_request("4Mi");
  pod.set_cpu_limit("10m");
  pod.set_memory_limit("16Mi");
  // Nothing to flush on the way out: a deleted drop pod may go at once.
  pod.set_termination_grace_period_seconds(1);
  return pod;
}

v1::Pod CreatedPod(const v1::DropPodSpec& spec, std::string uid, int64_t now_ms) {
  v1::Pod pod;
  pod.set_name(spec.name());
  pod.set_uid(std::move(uid));
  pod.set_node(spec.node());
  pod.set_cached_image(spec.cached_image());
  pod.set_image(spec.image());
  pod.set_generation(spec.generation());
  pod.set_phase(v1::POD_PENDING);
  pod.set_waiting_reason("ContainerCreating");
  pod.set_creation_time_ms(now_ms);
  return pod;
}

}  // namespace drop
