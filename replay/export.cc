// drop-replay export: the journal as JSON lines, for other tools (jq, a notebook, a database).
#include "replay/commands.h"
#include "replay/describe.h"

namespace drop::replay {

Status Export(const Reader& r, const ExportOptions& o, std::ostream& out) {
  if (r.empty()) return r.NoEntries();
  Result<std::pair<uint64_t, uint64_t>> range =
      r.Range(o.since, o.since_flag, o.until, o.until_flag);
  if (!range.ok()) return range.status();
  uint64_t from = range->first, to = range->second;
  journal::Store::Iterator it = r.store().Entries(from, to);
  // A write that failed ends the export (a full disk, a reader gone): the rest would go nowhere,
  // and main() reports the failed stream.
  for (; it.Valid() && out; it.Next())
    out << boost::json::serialize(EntryDocument(it.entry())) << '\n';
  return it.status();
}

}  // namespace drop::replay
