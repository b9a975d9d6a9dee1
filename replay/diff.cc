// drop-replay diff: what changed in drop's view between two points.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <iterator>
#include <map>
#include <optional>
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

// An item of a list as the API shows it: a label "pool=gpu", a taint "gpu=true:NoSchedule", a
// failed node "cpu-3 (ImagePullBackOff)".
std::string ItemText(const boost::json::value& item) {
  if (!item.is_object()) return boost::json::serialize(item);
  const boost::json::object& o = item.as_object();
  auto field = [&](const char* name) {
    const boost::json::value* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (o.contains("node")) return field("node") + " (" + field("reason") + ")";
  if (!o.contains("key")) return boost::json::serialize(item);
  std::string text = field("key");
  if (!field("value").empty()) text += "=" + field("value");
  if (!field("effect").empty()) text += ":" + field("effect");
  return text;
}

// A time or duration field's milliseconds: a number, or a string beyond 2^53 (MessageDocument).
std::optional<int64_t> Millis(const boost::json::value& x) {
  if (x.is_int64()) return x.as_int64();
  if (!x.is_string()) return std::nullopt;
  const std::string_view text = x.as_string();
  int64_t ms = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return ms;
}

// A message's fields by the API's names, leaf by leaf: "backoff.maxDelay" -> "10m". A duration
// (a field whose name ends in Ms) is written as one; each item of a list is a key of its own,
// "taints[gpu=true:NoSchedule]", so that a diff names the items that came or went.
void Flatten(const boost::json::value& v, const std::string& path,
             std::map<std::string, std::string>* out) {
  if (v.is_object()) {
    for (const auto& [key, x] : v.as_object()) {
      std::string name(key);
      if (name == "podTtlAfterFinishedMs") name = "podTTLAfterFinishedMs";  // as the CRD has it
      if (std::optional<int64_t> ms = name.ends_with("Ms") ? Millis(x) : std::nullopt) {
        if (name.ends_with("TimeMs") && *ms == 0) continue;  // no time: "(none)"
        (*out)[path + name.substr(0, name.size() - 2)] =
            name.ends_with("TimeMs") ? FormatTimeMillis(*ms) : FormatDuration(*ms);
        continue;
      }
      Flatten(x, path + name + (x.is_object() ? "." : ""), out);
    }
  } else if (v.is_array()) {
    for (const boost::json::value& item : v.as_array())
      (*out)[path + "[" + ItemText(item) + "]"] = "";
  } else if (v.is_double()) {  // backoff.factor: 1.5, not Boost.JSON's 1.5E0
    char text[32];
    std::snprintf(text, sizeof text, "%g", v.as_double());
    (*out)[path] = text;
  } else {
    (*out)[path] = v.is_string() ? std::string(v.as_string()) : boost::json::serialize(v);
  }
}

std::map<std::string, std::string> Fields(const google::protobuf::Message& m) {
  std::map<std::string, std::string> out;
  if (std::optional<boost::json::object> fields = MessageDocument(m)) {
    Flatten(*fields, "", &out);
  } else {
    out[""] = m.ShortDebugString();  // not valid UTF-8: compared whole
  }
  return out;
}

// "maxConcurrentNodes: 5 -> 10; backoff.maxDelay: 10m -> 5m; taints: +gpu=true:NoSchedule"
std::string FieldChanges(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  if (a.SerializeAsString() == b.SerializeAsString()) return "";  // most nodes, at once
  const std::map<std::string, std::string> x = Fields(a), y = Fields(b);
  std::map<std::string, std::string> items;  // list -> "+added, -removed"
  std::string out;
  auto say = [&](const std::string& text) { out += (out.empty() ? "" : "; ") + text; };
  auto item = [&](const std::string& key, char op) {
    size_t open = key.find('[');
    std::string& list = items[key.substr(0, open)];
    list += (list.empty() ? "" : ", ") + (op + key.substr(open + 1, key.size() - open - 2));
  };
  for (const auto& [key, value] : x) {
    auto it = y.find(key);
    if (key.ends_with(']')) {
      if (it == y.end()) item(key, '-');
    } else if (it == y.end() || it->second != value) {
      say(key + ": " + value + " -> " + (it == y.end() ? "(none)" : it->second));
    }
  }
  for (const auto& [key, value] : y) {
    if (x.count(key) > 0) continue;
    if (key.ends_with(']')) {
      item(key, '+');
    } else {
      say(key + ": (none) -> " + value);
    }
  }
  for (const auto& [list, changes] : items)
    say(list + ": " + changes);
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
  return s.phase() + ", " + std::to_string(s.nodes_ready()) + "/" +
         std::to_string(s.nodes_targeted()) + " nodes ready, " +
         std::to_string(s.consecutive_failures()) + " consecutive failure" +
         (s.consecutive_failures() == 1 ? "" : "s") +
         (s.conditions_size() > 0 ? " (" + s.conditions(0).reason() + ")" : "");
}

// A status without what StatusLine says and the nodes it lists.
v1::CachedImageStatus StatusRest(v1::CachedImageStatus s) {
  s.clear_phase();
  s.clear_nodes_ready();
  s.clear_nodes_targeted();
  s.clear_consecutive_failures();
  s.clear_conditions();
  s.clear_cached_nodes();
  s.clear_cached_nodes_digest();
  return s;
}

}  // namespace

Status Diff(const Reader& r, const DiffOptions& o, std::ostream& out) {
  if (r.empty()) return r.NoEntries();
  if (o.from.empty() || o.to.empty()) {
    return Status::InvalidArgument("diff needs --from and --to (a sequence number or a time)");
  }
  // A time before the journal is its start where that is the empty state before entry 1; after
  // retention, the state there was never kept.
  Result<Point> from = r.Resolve(o.from, "--from", /*range_start=*/r.origin().seq == 0);
  if (!from.ok()) return from.status();
  Result<Point> to = r.Resolve(o.to, "--to");
  if (!to.ok()) return to.status();
  if (from->seq > to->seq) {
    return Status::InvalidArgument("--from " + o.from + " (entry " + std::to_string(from->seq) +
                                   ") comes after --to " + o.to + " (entry " +
                                   std::to_string(to->seq) + "); swap them");
  }
  if (from->time_ms > to->time_ms) {  // two times between the same two entries
    return Status::InvalidArgument("--from " + o.from + " (" + FormatTimeMillis(from->time_ms) +
                                   ") comes after --to " + o.to + " (" +
                                   FormatTimeMillis(to->time_ms) + "); swap them");
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
        auto say = [&](const std::string& more) {
          if (!more.empty()) c += (c.empty() ? "" : "; ") + more;
        };
        if (x.object().spec().image() != y.object().spec().image()) {
          say("image " + x.object().spec().image() + " -> " + y.object().spec().image());
        }
        const v1::CachedImageStatus &xs = da.at(x.object().name()), &ys = db.at(y.object().name());
        std::string sa = StatusLine(xs), sb = StatusLine(ys);
        if (sa != sb) say(sa + " -> " + sb);
        // The rest of the spec and of the status drop would write: what the line above leaves
        // out (the nodes listed are counted there and in the nodes pulled, below).
        v1::CachedImageSpec spec_x = x.object().spec(), spec_y = y.object().spec();
        for (v1::CachedImageSpec* spec : {&spec_x, &spec_y}) {
          spec->clear_image();
          // No pullPolicyRef is the built-in policy, named as the other commands name it.
          spec->set_pull_policy_ref(PolicyName(spec->pull_policy_ref()));
        }
        say(FieldChanges(spec_x, spec_y));
        say(FieldChanges(StatusRest(xs), StatusRest(ys)));
        if (x.pulled_nodes_size() != y.pulled_nodes_size()) {  // drops when a node goes
          say("nodes pulled " + std::to_string(x.pulled_nodes_size()) + " -> " +
              std::to_string(y.pulled_nodes_size()));
        }
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
      << FormatDuration(to->time_ms - from->time_ms) << ": " << changes.size()
      << (changes.size() == 1 ? " change\n" : " changes\n");
  for (const Change& c : changes)
    out << c.op << ' ' << c.object << ": " << c.what << '\n';
  return Status::Ok();
}

}  // namespace drop::replay
