// drop-replay's read-only subcommands (DESIGN.md section 8), one file each. They print to `out`
// and return a Status whose message tells the user what to do; main() turns it into exit code 2.
// verify, explain, timeline and simulate have headers of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "replay/document.h"
#include "replay/reader.h"

namespace drop::replay {

// Range, counts by kind, snapshots, size on disk, schema version.
Status Info(const Reader& reader, Format format, std::ostream& out);

struct LogOptions {
  std::string since, until;  // points (Reader::Resolve); empty: the whole journal
  std::string since_flag = "--since", until_flag = "--until";  // as typed, for an error to name
  std::vector<std::string> kinds;
  std::string object;  // kind/name
  std::string node;
  std::optional<uint64_t> reconcile_id;
  uint64_t limit = 0;  // 0: no limit
  Format format = Format::kTable;
};

// `notes` (stderr) is told when the filters match nothing.
Status Log(const Reader& reader, const LogOptions& options, std::ostream& out, std::ostream& notes);

struct StateOptions {
  std::string at;      // empty: the end of the journal
  std::string object;  // cachedimage/NAME, pullpolicy/NAME, node/NAME; empty: everything
  std::optional<Format> format;
};
Status ShowState(const Reader& reader, const StateOptions& options, std::ostream& out);

struct DiffOptions {
  std::string from, to;
  Format format = Format::kTable;
};
Status Diff(const Reader& reader, const DiffOptions& options, std::ostream& out);

struct ExportOptions {
  std::string since, until;
  std::string since_flag = "--since", until_flag = "--until";  // as typed, for an error to name
};
// JSON lines: one entry a line, the Protobuf JSON form plus "time" (RFC 3339) and "kind".
Status Export(const Reader& reader, const ExportOptions& options, std::ostream& out);

}  // namespace drop::replay
