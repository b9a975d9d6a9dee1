// Container image references (registry/path:tag@digest) as the distribution reference grammar
// defines them, validated and normalized the way container runtimes list them on a node, so that
// "nginx:1.25" in a spec matches "docker.io/library/nginx:1.25" in node.status.images.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace drop {

struct ImageRef {
  std::string domain;  // "docker.io" when the reference names none
  std::string path;    // "library/nginx"
  std::string tag;     // empty when there is a digest and no tag
  std::string digest;  // "sha256:..." or empty

  // "docker.io/library/nginx:1.25", with the digest when there is one.
  std::string Normalized() const;
  // What identifies the image content on a node: repo@digest when pinned, else repo:tag.
  std::string MatchKey() const;
};

// Parses and normalizes a reference; the error names the part that is wrong.
Result<ImageRef> ParseImageRef(std::string_view text);

// Hash of the MatchKey of a reference: what Node.image_hashes holds. 0 when it does not parse.
uint64_t ImageMatchHash(std::string_view text);

}  // namespace drop
