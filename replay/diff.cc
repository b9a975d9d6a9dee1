// drop-replay diff: what changed in drop's view between two points.
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <ranges>
#include <set>

#include "core/duration.h"
#include "core/image_ref.h"
#include "core/image_view.h"
#include "core/reconcile.h"
#include "core/state.h"
#include "replay/commands.h"
#include "replay/describe.h"
#include "replay/point.h"

namespace drop::replay {
namespace {

// "max_concurrent_nodes: 5 -> 10; min_delay_between_pulls_ms: 0 -> 10000"
std::string FieldChanges(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  google::protobuf::util::MessageDifferencer d;
  std::string report;
  d.ReportDifferencesToString(&report);
  d.set_repeated_field_comparison(google::protobuf::util::MessageDifferencer::AS_SET);
  if (d.Compare(a, b)) return "";
  std::string out;
  size_t start = 0;
  while (start < report.size()) {
    size_t end = report.find('\n', start);
    if (end == std::string::npos) end = report.size();
    std::string line = report.substr(start, end - start);
    for (const char* prefix : {"modified: ", "added: ", "deleted: "}) {
      if (line.starts_with(prefix) && std::string(prefix) == "modified: ") {
        line = line.substr(10);
      }
    }
    if (!line.empty()) out += (out.empty() ? "" : "; ") + line;
    start = end + 1;
  }
  return out;
}

// The image of every CachedImage in `a` or `b`, by the hash Node.image_hashes holds.
std::map<uint64_t, std::string> KnownImages(const v1::State& a, const v1::State& b) {
  std::map<uint64_t, std::string> known;
  for (const v1::State* s : {&a, &b}) {
    for (const v1::ImageRecord& i : s->images())
      known.emplace(ImageMatchHash(i.object().spec().image()), i.object().spec().image());
  }
  return known;
}

// What a node's list of images gained and lost. drop keeps only a hash of each image a node lists:
// those of a CachedImage's image (`known`) are named, the others counted.
std::string ImageListChanges(const v1::Node& x, const v1::Node& y,
                             const std::map<uint64_t, std::string>& known) {
  const std::set<uint64_t> before(x.image_hashes().begin(), x.image_hashes().end());
  const std::set<uint64_t> after(y.image_hashes().begin(), y.image_hashes().end());
  auto gone = [](const std::set<uint64_t>& from, const std::set<uint64_t>& to) {
    std::vector<uint64_t> out;
    std::ranges::set_difference(from, to, std::back_inserter(out));
    return out;
  };
  std::string out;
  auto say = [&](const std::vector<uint64_t>& hashes, const char* named, const char* others) {
    std::string names;
    int unnamed = 0;
    for (uint64_t h : hashes) {
      auto it = known.find(h);
      if (it == known.end()) {
        ++unnamed;
      } else {
        names += (names.empty() ? "" : ", ") + it->second;
      }
    }
    if (!names.empty()) out += (out.empty() ? "" : "; ") + (named + names);
    if (unnamed > 0) {
      out += (out.empty() ? "" : "; ") + std::to_string(unnamed) + " other image" +
             (unnamed == 1 ? " " : "s ") + others;
    }
  };
  say(gone(after, before), "lists ", "listed");
  say(gone(before, after), "no longer lists ", "no longer listed");
  return out;
}

struct Change {
  char op;  // + - ~
  std::string object;
  std::string what;
};

template <typename Range, typename Name, typename Describe, typename Changes>
void Compare(const Range& a, const Range& b, Name name, Describe describe, Changes compare,
             std::vector<Change>* out) {
  using T = std::ranges::range_value_t<Range>;
  std::map<std::string, const T*> before, after;
  for (const T& x : a)
    before[name(x)] = &x;
  for (const T& x : b)
    after[name(x)] = &x;
  for (const auto& [n, x] : before) {
    if (after.count(n) == 0) out->push_back({'-', n, describe(*x, false)});
  }
  for (const auto& [n, y] : after) {
    auto it = before.find(n);
    if (it == before.end()) {
      out->push_back({'+', n, describe(*y, true)});
    } else if (std::string c = compare(*it->second, *y); !c.empty()) {
      out->push_back({'~', n, c});
    }
  }
}

std::string StatusLine(const v1::CachedImageStatus& s) {
  return s.phase() + " " + std::to_string(s.nodes_ready()) + "/" +
         std::to_string(s.nodes_targeted()) + " ready, " +
         std::to_string(s.consecutive_failures()) + " consecutive failures" +
         (s.conditions_size() > 0 ? " (" + s.conditions(0).reason() + ")" : "");
}

}  // namespace

Status Diff(const Reader& r, const DiffOptions& o, std::ostream& out) {
  if (r.empty()) return r.NoEntries();
  if (o.from.empty() || o.to.empty()) {
    return Status::InvalidArgument("diff needs --from and --to (a sequence number or a time)");
  }
  Result<Point> from = r.Resolve(o.from, "--from");
  if (!from.ok()) return from.status();
  Result<Point> to = r.Resolve(o.to, "--to");
  if (!to.ok()) return to.status();
  if (from->seq > to->seq) {
    return Status::InvalidArgument("--from " + o.from + " (entry " + std::to_string(from->seq) +
                                   ") comes after --to " + o.to + " (entry " +
                                   std::to_string(to->seq) + "); swap them");
  }
  Result<v1::State> a = r.StateAt(*from);
  if (!a.ok()) return a.status();
  Result<v1::State> b = r.StateAt(*to);
  if (!b.ok()) return b.status();

  std::vector<Change> changes;
  const std::map<uint64_t, std::string> known = KnownImages(*a, *b);
  Compare(
      a->nodes(), b->nodes(), [](const v1::NodeRecord& n) { return "node/" + n.node().name(); },
      [](const v1::NodeRecord& n, bool) { return n.node().ready() ? "Ready" : "NotReady"; },
      [&](const v1::NodeRecord& x, const v1::NodeRecord& y) {
        v1::Node rest_x = x.node(), rest_y = y.node();
        rest_x.clear_image_hashes();
        rest_y.clear_image_hashes();
        std::string fields = FieldChanges(rest_x, rest_y);
        std::string images = ImageListChanges(x.node(), y.node(), known);
        return fields + (fields.empty() || images.empty() ? "" : "; ") + images;
      },
      &changes);
  Compare(
      a->policies(), b->policies(),
      [](const v1::PolicyRecord& p) { return "pullpolicy/" + p.object().name(); },
      [](const v1::PolicyRecord& p, bool) {
        return "maxConcurrentNodes " + std::to_string(p.object().spec().max_concurrent_nodes());
      },
      [](const v1::PolicyRecord& x, const v1::PolicyRecord& y) {
        return FieldChanges(x.object().spec(), y.object().spec());
      },
      &changes);
  auto desired = [](const v1::State& s, int64_t now) {
    std::map<std::string, v1::CachedImageStatus> m;
    for (const v1::ImageRecord& i : s.images())
      m[i.object().name()] = DesiredStatus(s, ImageView(s, i), now);
    return m;
  };
  auto da = desired(*a, from->time_ms), db = desired(*b, to->time_ms);
  Compare(
      a->images(), b->images(),
      [](const v1::ImageRecord& i) { return "cachedimage/" + i.object().name(); },
      [&](const v1::ImageRecord& i, bool after) {
        const auto& m = after ? db : da;
        return i.object().spec().image() + ", " + StatusLine(m.at(i.object().name()));
      },
      [&](const v1::ImageRecord& x, const v1::ImageRecord& y) {
        std::string c;
        if (x.object().spec().image() != y.object().spec().image()) {
          c = "image " + x.object().spec().image() + " -> " + y.object().spec().image() + "; ";
        }
        std::string sa = StatusLine(da.at(x.object().name()));
        std::string sb = StatusLine(db.at(y.object().name()));
        if (sa != sb) c += sa + " -> " + sb;
        int pulled = y.pulled_nodes_size() - x.pulled_nodes_size();
        if (pulled != 0) c += (c.empty() ? "" : "; ") + std::to_string(pulled) + " nodes pulled";
        return c;
      },
      &changes);
  Compare(
      AllPods(*a), AllPods(*b), [](const v1::PodRecord& p) { return "pod/" + p.pod().name(); },
      [](const v1::PodRecord& p, bool) {
        return "on " + p.pod().node() + " for " + p.pod().cached_image() + ", " +
               PodPhaseText(p.pod());
      },
      [](const v1::PodRecord& x, const v1::PodRecord& y) {
        std::string px = PodPhaseText(x.pod()), py = PodPhaseText(y.pod());
        return px == py ? std::string() : px + " -> " + py;
      },
      &changes);

  if (o.format != Format::kTable) {
    boost::json::object doc;
    doc["from"] =
        boost::json::object{{"seq", from->seq}, {"time", FormatTimeMillis(from->time_ms)}};
    doc["to"] = boost::json::object{{"seq", to->seq}, {"time", FormatTimeMillis(to->time_ms)}};
    boost::json::array items;
    for (const Change& c : changes) {
      const char* op = c.op == '+' ? "added" : c.op == '-' ? "removed" : "changed";
      items.push_back(boost::json::object{{"change", op}, {"object", c.object}, {"what", c.what}});
    }
    doc["changes"] = std::move(items);
    Print(doc, o.format, out);
    return Status::Ok();
  }
  out << "From " << PointText(*from) << ", to " << PointText(*to) << ", "
      << FormatDuration(to->time_ms - from->time_ms) << ": " << changes.size() << " changes\n";
  for (const Change& c : changes)
    out << c.op << ' ' << c.object << ": " << c.what << '\n';
  return Status::Ok();
}

}  // namespace drop::replay
