#include "replay/objects.h"

#include "core/duration.h"
#include "core/state.h"
#include "replay/describe.h"

namespace drop::replay {
namespace {

using boost::json::array;
using boost::json::object;

object Labels(const google::protobuf::RepeatedPtrField<v1::Label>& labels) {
  object o;
  for (const v1::Label& l : labels)
    o[l.key()] = l.value();
  return o;
}

array Tolerations(const google::protobuf::RepeatedPtrField<v1::Toleration>& list) {
  array a;
  for (const v1::Toleration& t : list) {
    object o;
    if (!t.key().empty()) o["key"] = t.key();
    if (!t.operator_().empty()) o["operator"] = t.operator_();
    if (!t.value().empty()) o["value"] = t.value();
    if (!t.effect().empty()) o["effect"] = t.effect();
    if (t.has_toleration_seconds()) o["tolerationSeconds"] = t.toleration_seconds();
    a.push_back(std::move(o));
  }
  return a;
}

object Metadata(const std::string& name, const std::string& uid, int64_t generation) {
  object m;
  m["name"] = name;
  if (!uid.empty()) m["uid"] = uid;
  if (generation != 0) m["generation"] = generation;
  return m;
}

}  // namespace

object StatusDocument(const v1::CachedImageStatus& s) {
  object o;
  o["observedGeneration"] = s.observed_generation();
  o["phase"] = s.phase();
  o["nodesTargeted"] = s.nodes_targeted();
  o["nodesReady"] = s.nodes_ready();
  if (s.cached_nodes_size() > 0) {
    array nodes;
    for (const std::string& n : s.cached_nodes())
      nodes.push_back(boost::json::string(n));
    o["cachedNodes"] = std::move(nodes);
  } else if (s.cached_nodes_digest() != 0 && s.nodes_ready() > 0) {
    // The journal keeps a digest of the list in place of the list (CachedImageStatus).
    char buf[32];
    std::snprintf(buf, sizeof buf, "fnv1a64:%016llx",
                  static_cast<unsigned long long>(s.cached_nodes_digest()));
    o["cachedNodesDigest"] = buf;
  }
  if (s.failed_nodes_size() > 0) {
    array failed;
    for (const v1::FailedNode& f : s.failed_nodes()) {
      object x;
      x["node"] = f.node();
      x["reason"] = f.reason();
      if (!f.message().empty()) x["message"] = f.message();
      x["lastFailureTime"] = FormatTime(f.last_failure_time_ms());
      failed.push_back(std::move(x));
    }
    o["failedNodes"] = std::move(failed);
  }
  o["consecutiveFailures"] = s.consecutive_failures();
  if (s.next_pull_time_ms() > 0) o["nextPullTime"] = FormatTime(s.next_pull_time_ms());
  array conditions;
  for (const v1::Condition& c : s.conditions()) {
    object x;
    x["type"] = c.type();
    x["status"] = c.status();
    x["reason"] = c.reason();
    x["message"] = c.message();
    x["lastTransitionTime"] = FormatTime(c.last_transition_time_ms());
    x["observedGeneration"] = c.observed_generation();
    conditions.push_back(std::move(x));
  }
  o["conditions"] = std::move(conditions);
  return o;
}

object CachedImageDocument(const v1::CachedImage& c, const v1::CachedImageStatus& status) {
  object doc;
  doc["apiVersion"] = "drop.io/v1alpha1";
  doc["kind"] = "CachedImage";
  object meta = Metadata(c.name(), c.uid(), c.generation());
  if (!c.resource_version().empty()) meta["resourceVersion"] = c.resource_version();
  if (!c.discovery_policy().empty()) {
    meta["labels"] = object{{"drop.io/discovery-policy", c.discovery_policy()}};
  }
  doc["metadata"] = std::move(meta);
  object spec;
  spec["image"] = c.spec().image();
  if (c.spec().node_selector_size() > 0) spec["nodeSelector"] = Labels(c.spec().node_selector());
  if (c.spec().tolerations_size() > 0) spec["tolerations"] = Tolerations(c.spec().tolerations());
  if (c.spec().image_pull_secrets_size() > 0) {
    array secrets;
    for (const std::string& s : c.spec().image_pull_secrets())
      secrets.push_back(object{{"name", s}});
    spec["imagePullSecrets"] = std::move(secrets);
  }
  if (!c.spec().pull_policy_ref().empty()) {
    spec["pullPolicyRef"] = object{{"name", c.spec().pull_policy_ref()}};
  }
  doc["spec"] = std::move(spec);
  doc["status"] = StatusDocument(status);
  return doc;
}

object PullPolicyDocument(const v1::PullPolicy& p) {
  object doc;
  doc["apiVersion"] = "drop.io/v1alpha1";
  doc["kind"] = "PullPolicy";
  doc["metadata"] = Metadata(PolicyName(p.name()), p.uid(), p.generation());
  const v1::PullPolicySpec& s = p.spec();
  object spec;
  spec["maxConcurrentNodes"] = s.max_concurrent_nodes();
  spec["minDelayBetweenPulls"] = FormatDuration(s.min_delay_between_pulls_ms());
  spec["pullTimeout"] = FormatDuration(s.pull_timeout_ms());
  spec["imagePullPolicy"] = s.image_pull_policy();
  spec["podTTLAfterFinished"] = FormatDuration(s.pod_ttl_after_finished_ms());
  object backoff;
  backoff["initialDelay"] = FormatDuration(s.backoff().initial_delay_ms());
  backoff["maxDelay"] = FormatDuration(s.backoff().max_delay_ms());
  backoff["factor"] = s.backoff().factor();
  backoff["maxConsecutiveFailures"] = s.backoff().max_consecutive_failures();
  spec["backoff"] = std::move(backoff);
  doc["spec"] = std::move(spec);
  return doc;
}

object NodeDocument(const v1::Node& n) {
  object doc;
  doc["apiVersion"] = "v1";
  doc["kind"] = "Node";
  object meta = Metadata(n.name(), n.uid(), 0);
  if (n.labels_size() > 0) meta["labels"] = Labels(n.labels());
  doc["metadata"] = std::move(meta);
  object spec;
  if (n.unschedulable()) spec["unschedulable"] = true;
  if (n.taints_size() > 0) {
    array taints;
    for (const v1::Taint& t : n.taints()) {
      object x;
      x["key"] = t.key();
      if (!t.value().empty()) x["value"] = t.value();
      x["effect"] = t.effect();
      taints.push_back(std::move(x));
    }
    spec["taints"] = std::move(taints);
  }
  doc["spec"] = std::move(spec);
  object status;
  status["conditions"] = array{object{{"type", "Ready"}, {"status", n.ready() ? "True" : "False"}}};
  // drop keeps hashes of the images a node lists, not their names (Node.image_hashes).
  status["imagesListed"] = n.image_hashes_size();
  doc["status"] = std::move(status);
  return doc;
}

object PodDocument(const v1::PodRecord& r) {
  const v1::Pod& p = r.pod();
  object doc;
  doc["name"] = p.name();
  doc["node"] = p.node();
  doc["cachedImage"] = p.cached_image();
  doc["image"] = p.image();
  doc["policy"] = PolicyName(r.policy());
  doc["phase"] = PodPhaseText(p);
  if (r.issued_ms() > 0) doc["created"] = FormatTimeMillis(r.issued_ms());
  if (r.finished_ms() > 0) doc["finished"] = FormatTimeMillis(r.finished_ms());
  if (!r.create_error().empty())
    doc["createError"] = r.create_error_reason() + ": " + r.create_error();
  if (r.delete_issued()) doc["deleteIssued"] = true;
  return doc;
}

}  // namespace drop::replay
