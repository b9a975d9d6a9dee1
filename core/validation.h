// Checks of what users write, beyond what the CRD schema can say. A non-empty result is the
// message a Ready=False condition carries: it names the object, the field and the fix.
#pragma once

#include <string>
#include <string_view>

#include "core/schema.h"

namespace drop {

// Longest CachedImage name: it is a label value on every drop pod.
constexpr size_t kMaxCachedImageName = 63;

std::string ValidateCachedImage(const v1::CachedImage& image);

// A label value as Kubernetes takes it: up to 63 alphanumerics, '-', '_' or '.', starting and
// ending with an alphanumeric; or empty.
bool IsLabelValue(std::string_view s);
// A key of a label, a node selector or a toleration: an optional DNS subdomain and '/', then a
// non-empty label value ("drop.io/node", "gpu").
bool IsQualifiedName(std::string_view s);
std::string ValidatePullPolicy(std::string_view name, const v1::PullPolicySpec& spec);
// What is wrong with PullPolicy `name`, whose spec is `spec` and whose record (nullptr for the
// built-in default) may hold the projection's error, which comes first; "" when nothing is.
std::string PullPolicyError(std::string_view name, const v1::PullPolicySpec& spec,
                            const v1::PolicyRecord* record);

}  // namespace drop
