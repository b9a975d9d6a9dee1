// Counts and lists in the words of a message: "3 table files", "a, b and c".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace drop {

// "1 taint", "3 taints": a count and its noun, singular for one.
std::string Count(int64_t n, std::string_view noun);

// Items as a sentence lists them: "a", "a and b", "a, b and c"; `last` joins the last two ("or"),
// and "," lists them all alike: "a, b, c".
std::string Listed(const std::vector<std::string>& items, std::string_view last = "and");

}  // namespace drop
