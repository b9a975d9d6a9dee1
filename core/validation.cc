#include "core/validation.h"

#include <algorithm>

#include "core/chars.h"
#include "core/image_ref.h"
#include "core/state.h"

namespace drop {
namespace {

// Lowercase alphanumerics, '-' and '.', starting and ending with an alphanumeric, at most 253.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return IsLowerAlnum(s.front()) && IsLowerAlnum(s.back()) &&
         std::all_of(s.begin(), s.end(),
                     [](char c) { return IsLowerAlnum(c) || c == '-' || c == '.'; });
}

}  // namespace

bool IsLabelValue(std::string_view s) {
  if (s.size() > 63) return false;
  if (s.empty()) return true;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash != std::string_view::npos && !IsDnsSubdomain(s.substr(0, slash))) return false;
  std::string_view name = slash == std::string_view::npos ? s : s.substr(slash + 1);
  return !name.empty() && IsLabelValue(name);
}

std::string ValidateCachedImage(const v1::CachedImage& image) {
  const std::string who = "CachedImage " + image.name() + ": ";
  if (image.name().size() > kMaxCachedImageName) {
    return who + "the name is longer than " + std::to_string(kMaxCachedImageName) +
           " characters (it labels every drop pod); recreate it with a shorter name";
  }
  Result<ImageRef> ref = ParseImageRef(image.spec().image());
  if (!ref.ok()) return who + "spec.image: " + ref.status().message() + "; fix spec.image";
  for (const v1::Toleration& t : image.spec().tolerations()) {
    const std::string& op = t.operator_();
    if (!op.empty() && op != "Equal" && op != "Exists") {
      return who + "spec.tolerations: operator \"" + op + "\" must be Equal or Exists";
    }
    if (op == "Exists" && !t.value().empty()) {
      return who + "spec.tolerations: a toleration with operator Exists must not have a value";
    }
    if (op != "Exists" && t.key().empty()) {
      return who + "spec.tolerations: a toleration without a key needs operator Exists";
    }
    const std::string& e = t.effect();
    if (!e.empty() && e != "NoSchedule" && e != "PreferNoSchedule" && e != "NoExecute") {
      return who + "spec.tolerations: effect \"" + e +
             "\" must be NoSchedule, PreferNoSchedule, NoExecute or empty";
    }
    // What the API server checks when drop creates a pod: refused there, every create would
    // fail and count as a failed pull.
    if (!t.key().empty() && !IsQualifiedName(t.key())) {
      return who + "spec.tolerations: key \"" + t.key() +
             "\" is not a valid key (such as gpu or example.com/gpu)";
    }
    if (op != "Exists" && !IsLabelValue(t.value())) {
      return who + "spec.tolerations: value \"" + t.value() +
             "\" is not a valid label value (up to 63 letters, digits, '-', '_' or '.')";
    }
    if (t.has_toleration_seconds() && e != "NoExecute") {
      return who + "spec.tolerations: tolerationSeconds is set, so the effect must be NoExecute";
    }
  }
  for (const v1::Label& l : image.spec().node_selector()) {
    if (!IsQualifiedName(l.key()) || !IsLabelValue(l.value())) {
      return who + "spec.nodeSelector: " + l.key() + "=" + l.value() +
             " is not a valid label key and value; no node could match it";
    }
  }
  for (const std::string& s : image.spec().image_pull_secrets()) {
    if (s.empty())
      return who + "spec.imagePullSecrets: an entry has no name; give the Secret's name";
  }
  return "";
}

std::string ValidatePullPolicy(std::string_view name, const v1::PullPolicySpec& spec) {
  const std::string who = PolicyDisplayName(name) + ": ";
  if (spec.max_concurrent_nodes() < 1) {
    return who + "spec.maxConcurrentNodes is " + std::to_string(spec.max_concurrent_nodes()) +
           "; it must be at least 1";
  }
  if (spec.min_delay_between_pulls_ms() < 0) {
    return who + "spec.minDelayBetweenPulls is negative; use 0s or more";
  }
  if (spec.pull_timeout_ms() <= 0) return who + "spec.pullTimeout must be positive, e.g. 10m";
  if (spec.pod_ttl_after_finished_ms() < 0) {
    return who + "spec.podTTLAfterFinished is negative; use 0s or more";
  }
  const std::string& ipp = spec.image_pull_policy();
  if (ipp != "IfNotPresent" && ipp != "Always") {
    return who + "spec.imagePullPolicy \"" + ipp + "\" must be IfNotPresent or Always";
  }
  const v1::Backoff& b = spec.backoff();
  if (b.initial_delay_ms() < 0 || b.max_delay_ms() < 0) {
    return who + "spec.backoff delays must not be negative";
  }
  if (b.max_delay_ms() < b.initial_delay_ms()) {
    return who + "spec.backoff.maxDelay is shorter than initialDelay; raise maxDelay";
  }
  if (!(b.factor() >= 1)) return who + "spec.backoff.factor must be at least 1";
  if (b.max_consecutive_failures() < 1) {
    return who + "spec.backoff.maxConsecutiveFailures must be at least 1";
  }
  return "";
}

std::string PullPolicyError(std::string_view name, const v1::PullPolicySpec& spec,
                            const v1::PolicyRecord* record) {
  if (record != nullptr && !record->object().spec_error().empty()) {
    return record->object().spec_error();
  }
  return ValidatePullPolicy(name, spec);
}

}  // namespace drop
