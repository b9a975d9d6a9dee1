// The journal schema's version and the generated Protobuf types (core/schema.proto).
#pragma once

#include <cstdint>

#include "core/schema.pb.h"

namespace drop {

namespace v1 = ::drop::v1;

// Written to the journal's meta; bumped on a change old readers cannot skip. A journal with a
// larger version than the reader's is refused; smaller known versions stay readable.
// 2: State's pods are grouped by CachedImage (State.pod_groups).
constexpr uint32_t kSchemaVersion = 2;

}  // namespace drop
