#include "core/words.h"

namespace drop {

std::string Count(int64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

std::string Listed(const std::vector<std::string>& items, std::string_view last) {
  const std::string before_last = last == "," ? ", " : " " + std::string(last) + " ";
  std::string list;
  for (size_t i = 0; i < items.size(); ++i)
    list += (i == 0 ? "" : i + 1 == items.size() ? before_last : ", ") + items[i];
  return list;
}

}  // namespace drop
