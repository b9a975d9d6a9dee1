// drop-replay log: the journal's entries, filtered by time, kind, object, node or reconcileID.
#include <algorithm>
#include <ostream>

#include "core/duration.h"
#include "replay/commands.h"
#include "replay/describe.h"
#include "replay/table.h"

namespace drop::replay {

Status Log(const Reader& r, const LogOptions& o, std::ostream& out, std::ostream& notes) {
  for (const std::string& k : o.kinds) {
    const auto& known = KindFilters();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const std::string& n : known)
        list += (list.empty() ? "" : ", ") + n;
      return Status::InvalidArgument("--kind " + k + ": unknown kind; use one of " + list);
    }
  }
  std::string object, also;
  if (!o.object.empty()) {
    auto parsed = ParseObject(o.object, "--object");
    if (!parsed.ok()) return parsed.status();
    object = parsed->first + "/" + parsed->second;
    // The built-in policy is shown as pullpolicy/(default); "default" names it too, as in state
    // (and a PullPolicy a user named "default", if there is one).
    if (object == "pullpolicy/default") also = "pullpolicy/(default)";
  }
  if (r.empty()) return r.NoEntries();
  Result<std::pair<uint64_t, uint64_t>> range =
      r.Range(o.since, o.since_flag, o.until, o.until_flag);
  if (!range.ok()) return range.status();
  const uint64_t since = range->first;
  uint64_t from = since, to = range->second;
  std::optional<uint64_t> trigger;
  if (o.reconcile_id) {
    // A reconcile's entries are contiguous from its ReconcileStarted entry, whose seq is the ID.
    uint64_t id = *o.reconcile_id;
    Result<v1::Entry> start = id >= r.first() && id <= r.last()
                                  ? r.store().Get(id)
                                  : Result<v1::Entry>(Status::NotFound(""));
    if (!start.ok() || !start->has_reconcile()) {
      return Status::NotFound("--reconcile-id " + std::to_string(id) +
                              ": no reconcile starts at that entry (the reconcileID in drop's "
                              "logs is the sequence number of its ReconcileStarted entry); " +
                              "the journal holds " + r.RangeText());
    }
    from = std::max(from, id);
    if (start->reconcile().trigger_seq() >= r.first()) trigger = start->reconcile().trigger_seq();
  }

  // AGE is kubectl's, counted back from the journal's last entry (the moment it was copied).
  Table table({"SEQ", "TIME", "AGE", "KIND", "OBJECT", "SUMMARY"});
  boost::json::array items;
  uint64_t shown = 0;
  auto emit = [&](const v1::Entry& e) {
    if (o.format == Format::kTable) {
      std::vector<std::string> objects = ObjectsOf(e);
      std::string kind = KindName(e);
      if (e.reconcile_id() != 0 && !e.has_reconcile()) {
        kind += " [" + std::to_string(e.reconcile_id()) + "]";
      }
      table.Add({std::to_string(e.seq()), FormatTimeMillis(e.time_ms()),
                 Age(r.last_time() - e.time_ms()), kind, objects.empty() ? "-" : objects.front(),
                 Summary(e)});
    } else {
      items.push_back(EntryDocument(e));
    }
    ++shown;
  };
  // Whether the entry passes --kind, --object and --node.
  auto matches = [&](const v1::Entry& e) {
    if (!o.kinds.empty() && std::none_of(o.kinds.begin(), o.kinds.end(),
                                         [&](const auto& k) { return KindMatches(e, k); })) {
      return false;
    }
    if (object.empty() && o.node.empty()) return true;
    std::vector<std::string> objects = ObjectsOf(e);
    auto names = [&](const std::string& x) {
      return !x.empty() && std::find(objects.begin(), objects.end(), x) != objects.end();
    };
    if (!object.empty() && !names(object) && !names(also)) return false;
    return o.node.empty() || names("node/" + o.node);
  };
  // The trigger comes before the reconcile's entries, and is shown as any of them would be: when
  // it lies in the range and passes the filters.
  if (trigger && *trigger >= since && *trigger <= to) {
    Result<v1::Entry> t = r.store().Get(*trigger);
    if (!t.ok()) return t.status();
    if (matches(*t)) emit(*t);
  }
  journal::Store::Iterator it = r.store().Entries(from, to);
  for (; it.Valid() && (o.limit == 0 || shown < o.limit); it.Next()) {
    const v1::Entry& e = it.entry();
    if (o.reconcile_id && e.reconcile_id() != *o.reconcile_id) break;
    if (matches(e)) emit(e);
  }
  if (!it.status().ok()) return it.status();
  if (o.format == Format::kTable) {
    if (!table.empty()) table.Print(out);
    // As kubectl says "No resources found": a filter that matched nothing (a misspelt name?) is
    // told apart from a command that printed nothing for another reason.
    if (table.empty()) {
      if (from > to) {
        notes << "No entries: the range asked for is empty; the journal holds " << r.RangeText()
              << ".\n";
      } else {
        notes << "No entries match, of entries " << from << ".." << to << ".\n";
      }
    }
  } else {
    Print(List(std::move(items)), o.format, out);
  }
  return Status::Ok();
}

}  // namespace drop::replay
