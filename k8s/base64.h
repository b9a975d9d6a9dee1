// Base64 (RFC 4648, standard alphabet) as kubeconfig *-data fields and basic auth use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace drop::k8s {

std::string Base64Encode(std::string_view data);
// nullopt when `text` is not valid base64 (whitespace is ignored, padding optional).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace drop::k8s
