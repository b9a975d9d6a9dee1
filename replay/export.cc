// drop-replay export: the journal as JSON lines, for other tools (jq, a notebook, a database).
#include <google/protobuf/util/json_util.h>

#include "core/duration.h"
#include "replay/commands.h"
#include "replay/describe.h"

namespace drop::replay {

Status Export(const Reader& r, const ExportOptions& o, std::ostream& out) {
  if (r.empty()) return Status::Ok();
  Result<std::pair<uint64_t, uint64_t>> range =
      r.Range(o.since, o.since_flag, o.until, o.until_flag);
  if (!range.ok()) return range.status();
  uint64_t from = range->first, to = range->second;
  google::protobuf::util::JsonPrintOptions json;
  json.preserve_proto_field_names = false;
  std::string body;
  journal::Store::Iterator it = r.store().Entries(from, to);
  for (; it.Valid(); it.Next()) {
    const v1::Entry& e = it.entry();
    body.clear();
    auto s = google::protobuf::util::MessageToJsonString(e, &body, json);
    if (!s.ok()) return Status::Internal("entry " + std::to_string(e.seq()) + ": " + s.ToString());
    // {"time":"...","kind":"...", then the entry's own fields.
    out << "{\"time\":\"" << FormatTimeMillis(e.time_ms()) << "\",\"kind\":\"" << KindName(e)
        << "\"," << std::string_view(body).substr(1) << '\n';
  }
  return it.status();
}

}  // namespace drop::replay
