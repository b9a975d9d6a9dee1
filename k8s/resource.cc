#include "k8s/resource.h"

#include "core/chars.h"

namespace drop::k8s {

std::string Resource::ApiVersion() const {
  return group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
}

std::string Resource::Path(std::string_view ns, std::string_view name,
                           std::string_view subresource) const {
  std::string p = group.empty() ? "/api/" : "/apis/" + std::string(group) + "/";
  p += version;
  if (namespaced && !ns.empty()) p.append("/namespaces/").append(ns);
  p.append("/").append(plural);
  if (!name.empty()) p.append("/").append(name);
  if (!subresource.empty()) p.append("/").append(subresource);
  return p;
}

const Resource* ResourceFor(v1::ObjectKind kind) {
  switch (kind) {
    case v1::KIND_CACHED_IMAGE:
      return &kCachedImages;
    case v1::KIND_PULL_POLICY:
      return &kPullPolicies;
    case v1::KIND_DISCOVERY_POLICY:
      return &kDiscoveryPolicies;
    case v1::KIND_NODE:
      return &kNodes;
    case v1::KIND_POD:
      return &kPods;
    default:
      return nullptr;
  }
}

std::string QueryEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool plain = IsAlnum(static_cast<char>(c)) || c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace drop::k8s
