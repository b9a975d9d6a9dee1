// FNV-1a, 64 bit: a stable hash for names that end up in the journal and in pod names, so it must
// never change with the platform, the compiler or the library version.
#pragma once

#include <cstdint>
#include <string_view>

namespace drop {

constexpr uint64_t Fnv1a64(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace drop
