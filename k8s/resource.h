// The API resources drop reads and writes, and how their REST paths are spelled
// ("/api/v1/namespaces/drop-system/pods/x", "/apis/drop.io/v1alpha1/cachedimages/web/status").
#pragma once

#include <string>
#include <string_view>

#include "core/schema.h"

namespace drop::k8s {

struct Resource {
  std::string_view group;  // "" for the core API group
  std::string_view version;
  std::string_view plural;
  std::string_view kind;
  bool namespaced = false;

  // "v1", "drop.io/v1alpha1": the apiVersion of the objects.
  std::string ApiVersion() const;
  // The collection (name empty) or an object, optionally a subresource of it. `ns` is ignored for
  // cluster-scoped resources; empty for a namespaced one means all namespaces.
  std::string Path(std::string_view ns, std::string_view name = {},
                   std::string_view subresource = {}) const;
};

inline constexpr Resource kPods{"", "v1", "pods", "Pod", true};
inline constexpr Resource kNodes{"", "v1", "nodes", "Node", false};
inline constexpr Resource kEvents{"", "v1", "events", "Event", true};
inline constexpr Resource kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline constexpr Resource kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
inline constexpr Resource kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
inline constexpr Resource kCachedImages{"drop.io", "v1alpha1", "cachedimages", "CachedImage",
                                        false};
inline constexpr Resource kPullPolicies{"drop.io", "v1alpha1", "pullpolicies", "PullPolicy", false};
inline constexpr Resource kDiscoveryPolicies{"drop.io", "v1alpha1", "discoverypolicies",
                                             "DiscoveryPolicy", false};

// The resource an informer of `kind` watches; nullptr for KIND_UNKNOWN.
const Resource* ResourceFor(v1::ObjectKind kind);

// Percent-encodes a query parameter value (label selectors, continue tokens).
std::string QueryEscape(std::string_view s);

}  // namespace drop::k8s
