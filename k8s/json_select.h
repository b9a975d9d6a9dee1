// Parsing only what is read. A Kubernetes object carries far more than a controller reads: a drop
// pod's metadata.managedFields alone is 3 KB of its 7, and a node's status has its whole
// nodeInfo. A JsonSelection names the members to keep; SelectiveParser, Boost.JSON's incremental
// basic_parser with a handler that builds the value as stream_parser does, builds only those. The
// rest is still parsed and validated, but never allocated, copied or stored.
#pragma once

#include <boost/json.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace drop::k8s {

class JsonSelection {
 public:
  // Everything.
  JsonSelection() = default;

  // Member names separated by spaces, each optionally followed by a braced selection of its own
  // members: "metadata{name labels} spec{containers{name image}}". A member without braces is
  // kept whole; a selection applies to each element of an array. Names are taken as written
  // (any characters but spaces and braces), so "annotations{drop.io/generation}" works.
  static Result<JsonSelection> Parse(std::string_view text);

  bool all() const { return all_; }
  // The selection of member `key`'s value, nullptr when the member is not selected.
  const JsonSelection* Member(std::string_view key) const;

 private:
  // Reads member names and their selections from text[*pos] to the matching '}' (nested) or the
  // end of the text.
  static Status ParseMembers(std::string_view text, size_t* pos, bool nested, JsonSelection* out);

  bool all_ = true;
  std::vector<std::pair<std::string, JsonSelection>> members_;
};

// Boost.JSON's stream_parser, building only the selected members. Members that are not selected
// are left out of the result as if absent; everything else (errors, limits, the arena the value
// is built in) is as with stream_parser.
class SelectiveParser {
 public:
  // A whole document in `text` (nothing but whitespace after it), as json::parse reads one.
  static boost::json::value Parse(std::string_view text, const JsonSelection* selection,
                                  boost::json::error_code& ec);

  // `selection` is borrowed and must outlive the parser; nullptr keeps everything.
  explicit SelectiveParser(const JsonSelection* selection);
  ~SelectiveParser();
  SelectiveParser(const SelectiveParser&) = delete;
  SelectiveParser& operator=(const SelectiveParser&) = delete;

  // Starts a new document whose value is built with `sp`.
  void reset(boost::json::storage_ptr sp = {});
  // As stream_parser::write_some: consumes what it can of [data, data + size), stopping at the
  // end of the document.
  size_t write_some(const char* data, size_t size, boost::json::error_code& ec);
  bool done() const;
  // The document; only after done().
  boost::json::value release();

 private:
  class Handler;
  struct Parser;
  std::unique_ptr<Parser> parser_;
};

}  // namespace drop::k8s
