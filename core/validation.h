// Checks of what users write, beyond what the CRD schema can say. A non-empty result is the
// message a Ready=False condition carries: it names the object, the field and the fix.
#pragma once

#include <string>

#include "core/schema.h"

namespace drop {

// Longest CachedImage name: it is a label value on every drop pod.
constexpr size_t kMaxCachedImageName = 63;

std::string ValidateCachedImage(const v1::CachedImage& image);
std::string ValidatePullPolicy(std::string_view name, const v1::PullPolicySpec& spec);

}  // namespace drop
