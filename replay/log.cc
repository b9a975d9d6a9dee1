// drop-replay log: the journal's entries, filtered by time, kind, object, node or reconcileID.
#include <algorithm>
#include <ostream>
#include <set>

#include "core/duration.h"
#include "core/state.h"
#include "replay/commands.h"
#include "replay/describe.h"
#include "replay/table.h"

namespace drop::replay {
namespace {

// kubectl's AGE (apimachinery's HumanDuration): whole seconds, so that a column never holds both
// "1s" and Age's tenths ("1.1s").
std::string WholeAge(int64_t ms) {
  return Age(ms - ms % 1000);
}

// The edits (insertions, deletions, substitutions) that make `a` into `b`: Levenshtein's distance.
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The objects the state holds, as ObjectsOf names them ("pod/NAME").
std::vector<std::string> ObjectsIn(const v1::State& state) {
  std::vector<std::string> out;
  for (const v1::NodeRecord& n : state.nodes())
    out.push_back("node/" + n.node().name());
  for (const v1::ImageRecord& i : state.images())
    out.push_back("cachedimage/" + i.object().name());
  for (const v1::PolicyRecord& p : state.policies())
    out.push_back("pullpolicy/" + p.object().name());
  for (const v1::PodRecord& p : AllPods(state))
    out.push_back("pod/" + p.pod().name());
  return out;
}

// After a --object or --node filter (`given`, as typed: "--node gpu-7") matched nothing: Ok when
// the journal names `object` (kind/name) after all, elsewhere than asked: an entry, or the state
// its kept entries start from (retention may have cut every entry that named it); else an error
// that says so and offers the names of its kind that are close to it. Reads the whole journal: only
// a log that shows nothing pays for it.
Status NamedAnywhere(const Reader& r, const std::string& given, const std::string& object) {
  const std::string kind = object.substr(0, object.find('/') + 1);  // "pod/"
  std::set<std::string> names;                                      // of that kind
  auto seen = [&](std::vector<std::string> objects) {
    for (std::string& o : objects) {
      if (o == object) return true;
      if (o.starts_with(kind)) names.insert(std::move(o));
    }
    return false;
  };
  if (r.origin().seq > 0) {
    Result<v1::State> origin = r.StateAt(r.origin());
    if (!origin.ok()) return origin.status();
    if (seen(ObjectsIn(*origin))) return Status::Ok();
  }
  journal::Store::Iterator it = r.store().Entries(r.first(), r.last());
  for (; it.Valid(); it.Next()) {
    if (seen(ObjectsOf(it.entry()))) return Status::Ok();
  }
  if (!it.status().ok()) return it.status();
  // Close: a typo's few edits, not any name of the kind.
  const std::string name = object.substr(kind.size());
  const size_t near = std::max<size_t>(2, name.size() / 3);
  std::vector<std::pair<size_t, std::string>> closest;  // (distance, name), names in order
  for (const std::string& n : names) {
    size_t d = EditDistance(name, n.substr(kind.size()));
    if (d <= near) closest.emplace_back(d, n);
  }
  std::stable_sort(closest.begin(), closest.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  if (closest.size() > 3) closest.resize(3);
  std::string message = given + ": the journal never names " + object + " (" +
                        (r.origin().seq > 0 ? "neither the state it starts from nor " : "") +
                        "entries " + std::to_string(r.first()) + ".." + std::to_string(r.last()) +
                        ")";
  if (closest.empty()) {
    return Status::NotFound(message + "; " + std::to_string(names.size()) + " " +
                            kind.substr(0, kind.size() - 1) + " names are in it, none close");
  }
  std::vector<std::string> offered;
  for (const auto& [distance, n] : closest)
    offered.push_back(n);
  return Status::NotFound(message + "; did you mean " + Listed(offered, "or") + "?");
}

}  // namespace

Status Log(const Reader& r, const LogOptions& o, std::ostream& out, std::ostream& notes) {
  for (const std::string& k : o.kinds) {
    const auto& known = KindFilters();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      return Status::InvalidArgument("--kind " + k + ": unknown kind; use one of " +
                                     Listed(known, ","));
    }
  }
  std::string object, also;
  if (!o.object.empty()) {
    auto parsed = ParseObject(o.object, "--object");
    if (!parsed.ok()) return parsed.status();
    object = parsed->first + "/" + parsed->second;
    // The built-in policy is shown as pullpolicy/(default); "default" names it too, as in state
    // (and a PullPolicy a user named "default", if there is one).
    if (object == "pullpolicy/default") also = "pullpolicy/" + PolicyName("");
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

  // AGE is kubectl's, counted back from the journal's last entry (the moment it was copied), not
  // from now: the notes say so under the table.
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
                 WholeAge(r.last_time() - e.time_ms()), kind,
                 objects.empty() ? "-" : objects.front(), Summary(e)});
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
  // A name no entry of the journal has (a misspelt pod?) is an error, not an empty log; the
  // built-in policy always exists, named or not.
  if (shown == 0 && !object.empty() && also.empty() && object != "pullpolicy/" + PolicyName("")) {
    if (Status s = NamedAnywhere(r, "--object " + o.object, object); !s.ok()) return s;
  }
  if (shown == 0 && !o.node.empty()) {
    if (Status s = NamedAnywhere(r, "--node " + o.node, "node/" + o.node); !s.ok()) return s;
  }
  if (o.format == Format::kTable) {
    if (!table.empty()) {
      table.Print(out);
      // Under the table, and only when it reached its file: a failed write is the one thing said.
      if (out.flush()) {
        notes << "AGE counts back from the journal's last entry (entry " << r.last() << ", "
              << FormatTimeMillis(r.last_time()) << "), not from now.\n";
      }
    }
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
