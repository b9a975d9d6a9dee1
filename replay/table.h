// Output as kubectl prints it: aligned columns under upper-case headers, and ages ("5m", "2d").
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace drop::replay {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Columns separated by three spaces; the last column is not padded.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// kubectl's age: "45s", "5m", "5m30s", "3h", "3h20m", "2d", "2d4h", "400d", and tenths under ten
// seconds ("3.3s"); "<invalid>" below 0.
std::string Age(int64_t ms);

// A time relative to a reference: "5m before the end", "+1m30s". Used beside RFC 3339 times.
std::string Ago(int64_t t, int64_t ref);

}  // namespace drop::replay
