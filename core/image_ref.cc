#include "core/image_ref.h"

#include <algorithm>

#include "core/chars.h"
#include "core/hash.h"

namespace drop {
namespace {

bool IsWord(char c) {
  return IsAlnum(c) || c == '_';
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
bool ValidPathComponent(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (size_t i = 0; i < s.size();) {
    if (IsLowerAlnum(s[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && !IsLowerAlnum(s[j]))
      ++j;
    std::string_view sep = s.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == std::string_view::npos;
    if (!(sep == "." || sep == "_" || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

// host[:port], host being dot-separated components of [A-Za-z0-9-] or a bracketed IPv6 address.
bool ValidDomain(std::string_view s) {
  if (s.empty()) return false;
  std::string_view host = s;
  size_t colon = std::string_view::npos;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : s.substr(1, close - 1)) {
      if (!IsHex(c) && c != ':') return false;
    }
    host = s.substr(0, close + 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return false;
      colon = close + 1;
    }
  } else {
    colon = s.find(':');
    host = s.substr(0, colon);
    size_t start = 0;
    while (start <= host.size()) {
      size_t dot = host.find('.', start);
      std::string_view part = host.substr(start, dot == std::string_view::npos ? dot : dot - start);
      if (part.empty() || !IsAlnum(part.front()) || !IsAlnum(part.back())) return false;
      for (char c : part) {
        if (!IsAlnum(c) && c != '-') return false;
      }
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
  }
  if (colon != std::string_view::npos) {
    std::string_view port = s.substr(colon + 1);
    if (port.empty()) return false;
    for (char c : port) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

bool ValidTag(std::string_view s) {
  if (s.empty() || s.size() > 128 || !IsWord(s[0])) return false;
  for (char c : s) {
    if (!IsWord(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// algorithm ":" hex, as the kubelet takes it: the reference grammar allows any algorithm, but the
// kubelet's parser (go-digest) knows only these, in lowercase hex; any other is InvalidImageName
// on every node.
bool ValidDigest(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view alg = s.substr(0, colon), hex = s.substr(colon + 1);
  size_t want = alg == "sha256" ? 64 : alg == "sha384" ? 96 : alg == "sha512" ? 128 : 0;
  return want > 0 && hex.size() == want && std::all_of(hex.begin(), hex.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

Status Bad(std::string_view text, const std::string& why) {
  return Status::InvalidArgument("invalid image reference \"" + std::string(text) + "\": " + why);
}

}  // namespace

std::string ImageRef::Normalized() const {
  std::string out = domain + "/" + path;
  if (!tag.empty()) out += ":" + tag;
  if (!digest.empty()) out += "@" + digest;
  return out;
}

std::string ImageRef::MatchKey() const {
  if (!digest.empty()) return domain + "/" + path + "@" + digest;
  return domain + "/" + path + ":" + tag;
}

Result<ImageRef> ParseImageRef(std::string_view text) {
  if (text.empty()) return Bad(text, "it is empty; give a reference such as registry/app:1.0");
  ImageRef ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    ref.digest = std::string(rest.substr(at + 1));
    rest = rest.substr(0, at);
    if (!ValidDigest(ref.digest)) {
      return Bad(text,
                 "digest \"" + ref.digest +
                     "\" is not sha256:, sha384: or sha512: and 64, 96 or 128 lowercase hex " +
                     "digits, the digests the kubelet takes");
    }
  }
  // A tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    ref.tag = std::string(rest.substr(colon + 1));
    rest = rest.substr(0, colon);
    if (!ValidTag(ref.tag)) {
      return Bad(text, "tag \"" + ref.tag +
                           "\" must be 1-128 of [A-Za-z0-9_.-], not starting with . or -");
    }
  }
  std::string_view name = rest;
  size_t first = name.find('/');
  std::string_view head = name.substr(0, first);
  bool has_domain = first != std::string_view::npos &&
                    (head.find_first_of(".:") != std::string_view::npos || head == "localhost" ||
                     head.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ[") != std::string_view::npos);
  std::string_view path = name;
  if (has_domain) {
    ref.domain = std::string(head);
    path = name.substr(first + 1);
    if (!ValidDomain(ref.domain))
      return Bad(text, "registry \"" + ref.domain + "\" is not a host[:port]");
  } else {
    ref.domain = "docker.io";
  }
  if (ref.domain == "index.docker.io") ref.domain = "docker.io";
  if (path.empty()) return Bad(text, "the repository name is empty");
  size_t start = 0;
  while (true) {
    size_t next = path.find('/', start);
    std::string_view part =
        path.substr(start, next == std::string_view::npos ? next : next - start);
    if (!ValidPathComponent(part)) {
      return Bad(text,
                 "repository part \"" + std::string(part) +
                     "\" must be lowercase letters and digits separated by '.', '_', '__' or '-'");
    }
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  ref.path = std::string(path);
  if (ref.domain == "docker.io" && ref.path.find('/') == std::string::npos) {
    ref.path = "library/" + ref.path;
  }
  if (ref.domain.size() + 1 + ref.path.size() > 255) {
    return Bad(text, "the repository name is longer than 255 characters");
  }
  if (ref.tag.empty() && ref.digest.empty()) ref.tag = "latest";
  return ref;
}

uint64_t ImageMatchHash(std::string_view text) {
  Result<ImageRef> ref = ParseImageRef(text);
  if (!ref.ok()) return 0;
  return Fnv1a64(ref->MatchKey());
}

}  // namespace drop
