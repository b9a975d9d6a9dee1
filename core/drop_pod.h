// The drop pod as a value (DESIGN.md section 3): a pod pinned to one node whose only job is to
// make the kubelet pull an image. Its name is a function of (CachedImage, node, generation), so a
// create repeated after a crash answers AlreadyExists instead of making a second pod.
#pragma once

#include <string>
#include <string_view>

#include "core/schema.h"

namespace drop {

inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kManagedByValue = "drop";
inline constexpr std::string_view kCachedImageLabel = "drop.io/cachedimage";
inline constexpr std::string_view kNodeLabel = "drop.io/node";
inline constexpr std::string_view kGenerationAnnotation = "drop.io/generation";
inline constexpr std::string_view kDiscoveryPolicyLabel = "drop.io/discovery-policy";
inline constexpr std::string_view kDefaultNamespace = "drop-system";
// The no-op binary in the operator's image, and where the init container installs it.
inline constexpr std::string_view kNoopPathInOperatorImage = "/drop-noop";
inline constexpr std::string_view kNoopInstallDir = "/drop";
// The drop pod's container that runs the target image (the watch projection finds it by name).
inline constexpr std::string_view kTargetContainer = "image";

// "drop-<cachedimage>-<10 hex digits of FNV-1a(node, generation)>".
std::string DropPodName(std::string_view cached_image, std::string_view node, int64_t generation);

// `s` if it is a valid label value, else a valid one derived from it (truncated, with a hash).
std::string LabelValue(std::string_view s);

v1::DropPodSpec MakeDropPod(const v1::OperatorConfig& config, const v1::CachedImage& image,
                            const v1::PullPolicySpec& policy, std::string_view node);

// The pod as the API server first shows a created drop pod: Pending, its container being
// created. The simulated clusters (drop-replay simulate, the tests' World) start from it.
v1::Pod CreatedPod(const v1::DropPodSpec& spec, std::string uid, int64_t now_ms);

}  // namespace drop
