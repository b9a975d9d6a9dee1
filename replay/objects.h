// The fold's records as the Kubernetes objects they project, shaped as `kubectl get -o yaml`
// shows them (camelCase fields, RFC 3339 times, Go durations), for `state` and `diff`.
#pragma once

#include <boost/json.hpp>

#include "core/schema.h"

namespace drop::replay {

boost::json::object StatusDocument(const v1::CachedImageStatus& status);
// The CachedImage with `status` (the one drop would write, say) in place of the recorded one.
boost::json::object CachedImageDocument(const v1::CachedImage& object,
                                        const v1::CachedImageStatus& status);
boost::json::object PullPolicyDocument(const v1::PullPolicy& object);
boost::json::object NodeDocument(const v1::Node& node);
boost::json::object PodDocument(const v1::PodRecord& pod);

}  // namespace drop::replay
