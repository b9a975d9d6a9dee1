#include "k8s/manifests.h"

#include <string>

#include "core/drop_pod.h"
#include "core/duration.h"

namespace drop::k8s {
namespace json = boost::json;

namespace {

json::object Labels(const google::protobuf::RepeatedPtrField<v1::Label>& labels) {
  json::object out;
  for (const v1::Label& l : labels)
    out[l.key()] = l.value();
  return out;
}

json::array Tolerations(const google::protobuf::RepeatedPtrField<v1::Toleration>& tolerations) {
  json::array out;
  for (const v1::Toleration& t : tolerations) {
    json::object o;
    if (!t.key().empty()) o["key"] = t.key();
    if (!t.operator_().empty()) o["operator"] = t.operator_();
    if (!t.value().empty()) o["value"] = t.value();
    if (!t.effect().empty()) o["effect"] = t.effect();
    if (t.has_toleration_seconds()) o["tolerationSeconds"] = t.toleration_seconds();
    out.push_back(std::move(o));
  }
  return out;
}

// The same hardening for both containers: they do nothing that needs a privilege.
json::object ContainerSecurity() {
  return {{"allowPrivilegeEscalation", false},
          {"readOnlyRootFilesystem", true},
          {"capabilities", {{"drop", json::array{"ALL"}}}}};
}

json::object Resources(const v1::DropPodSpec& pod) {
  return {{"requests", {{"cpu", pod.cpu_request()}, {"memory", pod.memory_request()}}},
          {"limits", {{"cpu", pod.cpu_limit()}, {"memory", pod.memory_limit()}}}};
}

}  // namespace

json::object PodManifest(const v1::DropPodSpec& pod) {
  const std::string dir(kNoopInstallDir);
  json::object metadata{
      {"name", pod.name()},
      {"namespace", pod.namespace_()},
      {"labels", Labels(pod.labels())},
      {"annotations", Labels(pod.annotations())},
  };
  if (!pod.cached_image_uid().empty()) {
    // Garbage collection removes the pod with its CachedImage (a namespaced dependent may have
    // a cluster-scoped owner).
    metadata["ownerReferences"] = json::array{json::object{
        {"apiVersion", "drop.io/v1alpha1"},
        {"kind", "CachedImage"},
        {"name", pod.cached_image()},
        {"uid", pod.cached_image_uid()},
        {"controller", true},
    }};
  }
  // Pinned the way the DaemonSet controller pins its pods: a required affinity on the node's
  // name, so the scheduler still checks taints and resources (nodeName would bypass it).
  json::object affinity{{"nodeAffinity",
                         {{"requiredDuringSchedulingIgnoredDuringExecution",
                           {{"nodeSelectorTerms",
                             json::array{json::object{
                                 {"matchFields", json::array{json::object{
                                                     {"key", "metadata.name"},
                                                     {"operator", "In"},
                                                     {"values", json::array{pod.node()}}}}}}}}}}}}};
  json::object init{
      {"name", "install-noop"},
      {"image", pod.init_image()},
      {"imagePullPolicy", "IfNotPresent"},
      {"command", json::array{pod.noop_path(), "install", dir + "/noop"}},
      {"volumeMounts", json::array{json::object{{"name", "drop"}, {"mountPath", dir}}}},
      {"securityContext", ContainerSecurity()},
      {"resources", Resources(pod)},
  };
  json::object target{
      {"name", kTargetContainer},
      {"image", pod.image()},
      {"imagePullPolicy", pod.image_pull_policy()},
      {"command", json::array{dir + "/noop"}},
      {"volumeMounts",
       json::array{json::object{{"name", "drop"}, {"mountPath", dir}, {"readOnly", true}}}},
      {"securityContext", ContainerSecurity()},
      {"resources", Resources(pod)},
  };
  json::object spec{
      {"restartPolicy", "Never"},
      {"automountServiceAccountToken", false},
      {"enableServiceLinks", false},
      {"terminationGracePeriodSeconds", pod.termination_grace_period_seconds()},
      {"affinity", std::move(affinity)},
      {"securityContext",
       {{"runAsNonRoot", true},
        {"runAsUser", pod.run_as_user()},
        {"runAsGroup", pod.run_as_user()},
        {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
      {"volumes",
       json::array{json::object{{"name", "drop"}, {"emptyDir", {{"sizeLimit", "16Mi"}}}}}},
      {"initContainers", json::array{std::move(init)}},
      {"containers", json::array{std::move(target)}},
  };
  if (pod.tolerations_size() > 0) spec["tolerations"] = Tolerations(pod.tolerations());
  if (pod.image_pull_secrets_size() > 0) {
    json::array secrets;
    for (const std::string& s : pod.image_pull_secrets())
      secrets.push_back(json::object{{"name", s}});
    spec["imagePullSecrets"] = std::move(secrets);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", std::move(metadata)},
          {"spec", std::move(spec)}};
}

json::object StatusManifest(const v1::CachedImageStatus& s) {
  json::object out{
      {"observedGeneration", s.observed_generation()},
      {"phase", s.phase()},
      {"nodesTargeted", s.nodes_targeted()},
      {"nodesReady", s.nodes_ready()},
      {"consecutiveFailures", s.consecutive_failures()},
  };
  json::array cached;
  for (const std::string& n : s.cached_nodes())
    cached.push_back(json::string(n));
  out["cachedNodes"] = std::move(cached);
  json::array failed;
  for (const v1::FailedNode& f : s.failed_nodes()) {
    failed.push_back(json::object{{"node", f.node()},
                                  {"reason", f.reason()},
                                  {"message", f.message()},
                                  {"lastFailureTime", FormatTime(f.last_failure_time_ms())}});
  }
  out["failedNodes"] = std::move(failed);
  if (s.next_pull_time_ms() > 0) out["nextPullTime"] = FormatTime(s.next_pull_time_ms());
  json::array conditions;
  for (const v1::Condition& c : s.conditions()) {
    conditions.push_back(
        json::object{{"type", c.type()},
                     {"status", c.status()},
                     {"observedGeneration", c.observed_generation()},
                     {"lastTransitionTime", FormatTime(c.last_transition_time_ms())},
                     {"reason", c.reason()},
                     {"message", c.message()}});
  }
  out["conditions"] = std::move(conditions);
  return out;
}

}  // namespace drop::k8s
