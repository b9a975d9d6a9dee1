// How the user names a moment of the journal (--at, --from, --to, --since, --until).
#pragma once

#include <string_view>

#include "core/status.h"
#include "replay/reader.h"

namespace drop::replay {

// See Reader::Resolve.
Result<Point> ResolvePoint(const Reader& reader, std::string_view text, std::string_view flag);

}  // namespace drop::replay
