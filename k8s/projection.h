// Kubernetes objects (JSON, as the API server sends them) projected into the core's Protobuf
// types (core/schema.proto) as soon as they arrive, keeping only what the core reads: a node's
// fifty image names become fifty-odd 8-byte hashes, a CachedImage's status loses its node lists.
// Maps become lists sorted by key, times become milliseconds since the epoch. A field that cannot
// be read (a PullPolicy's "ten" for a duration) does not fail the projection: it is reported in
// spec_error, naming the object, the field and the fix, and the core shows it to the user.
#pragma once

#include <boost/json.hpp>

#include "core/schema.h"
#include "k8s/json_select.h"

namespace drop::k8s {

v1::Node ProjectNode(const boost::json::object& node);
v1::Pod ProjectPod(const boost::json::object& pod);
v1::CachedImage ProjectCachedImage(const boost::json::object& image);
// Absent fields take the built-in default policy's values (DefaultPolicySpec()).
v1::PullPolicy ProjectPullPolicy(const boost::json::object& policy);
v1::DiscoveryPolicy ProjectDiscoveryPolicy(const boost::json::object& policy);

// The projection of `object` as a `kind` into the matching field of `event`; false for a kind
// that has none.
bool ProjectInto(v1::ObjectKind kind, const boost::json::object& object, v1::WatchEvent* event);

// What the projection of a `kind` reads, as selections for SelectiveParser: the informers build
// nothing else. Of an object; of a watch event (its type, and the object's fields or, in an ERROR
// event, the metav1.Status's code, reason and message); of a list page (its resourceVersion,
// continue token and items). Everything, for a kind without a projection.
const JsonSelection& ProjectedFields(v1::ObjectKind kind);
const JsonSelection& ProjectedWatchEventFields(v1::ObjectKind kind);
const JsonSelection& ProjectedListFields(v1::ObjectKind kind);

// The built-in defaults of a DiscoveryPolicy (DESIGN.md section 1): interval 5m, maxImages 50,
// imageLabel "image", prune false.
inline constexpr int64_t kDefaultDiscoveryIntervalMs = 5 * 60 * 1000;
inline constexpr int32_t kDefaultDiscoveryMaxImages = 50;

}  // namespace drop::k8s
