#include "replay/table.h"

#include <algorithm>

namespace drop::replay {

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  measure(headers_);
  for (const auto& row : rows_)
    measure(row);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 3, ' ');
    }
    out << line << '\n';
  };
  print(headers_);
  for (const auto& row : rows_)
    print(row);
}

std::string Age(int64_t ms) {
  if (ms < 0) return "<invalid>";
  int64_t s = ms / 1000;
  auto n = [](int64_t v, const char* unit) { return std::to_string(v) + unit; };
  // Under 10 s, tenths, in seconds still: a column of "13s" and "3323ms" reads as unsorted.
  if (s < 10 && ms % 1000 >= 100) return n(s, ".") + n(ms % 1000 / 100, "s");
  if (s < 120) return n(s, "s");
  int64_t m = s / 60;
  if (m < 10) return s % 60 == 0 ? n(m, "m") : n(m, "m") + n(s % 60, "s");
  if (m < 180) return n(m, "m");
  int64_t h = m / 60;
  if (h < 8) return m % 60 == 0 ? n(h, "h") : n(h, "h") + n(m % 60, "m");
  if (h < 48) return n(h, "h");
  int64_t d = h / 24;
  if (d < 8) return h % 24 == 0 ? n(d, "d") : n(d, "d") + n(h % 24, "h");
  return n(d, "d");
}

std::string Ago(int64_t t, int64_t ref) {
  if (t == ref) return "at the end";
  return t < ref ? Age(ref - t) + " before the end" : Age(t - ref) + " after the end";
}

}  // namespace drop::replay
