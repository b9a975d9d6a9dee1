// The JSON drop writes to the API server, rendered from the core's values: the drop pod
// (DESIGN.md section 3) and a CachedImage's status.
#pragma once

#include <boost/json.hpp>

#include "core/schema.h"

namespace drop::k8s {

// The Pod object for a drop pod, ready to POST to /api/v1/namespaces/<ns>/pods.
boost::json::object PodManifest(const v1::DropPodSpec& pod);

// CachedImage.status as the CRD declares it (times RFC 3339, zero values left out).
boost::json::object StatusManifest(const v1::CachedImageStatus& status);

}  // namespace drop::k8s
