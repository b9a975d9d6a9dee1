// drop-replay state: time travel. The fold at a point, and the status drop would write then.
#include "core/state.h"

#include <algorithm>

#include "core/duration.h"
#include "core/image_view.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/scheduling.h"
#include "core/validation.h"
#include "replay/commands.h"
#include "replay/describe.h"
#include "replay/objects.h"
#include "replay/point.h"
#include "replay/table.h"

namespace drop::replay {
namespace {

std::string Names(const std::vector<std::string>& names) {
  return names.empty() ? "none" : Listed(names, ",");
}

// Whether the status drop last wrote equals `desired` (compared in journal form).
std::string LastWrite(const v1::ImageRecord& r, const v1::CachedImageStatus& desired) {
  if (!r.has_status_issued()) return "never written";
  v1::CachedImageStatus compact = desired;
  CompactStatus(&compact);
  bool same = compact.SerializeAsString() == r.status_issued().SerializeAsString();
  return (same ? "same as written at " : "differs from the one written at ") +
         FormatTimeMillis(r.status_written_ms());
}

Status Image(const v1::State& state, const Point& at, const std::string& name, Format format,
             std::ostream& out) {
  const v1::ImageRecord* r = Find(state.images(), name);
  if (r == nullptr) {
    std::vector<std::string> names;
    for (const v1::ImageRecord& i : state.images())
      names.push_back(i.object().name());
    return Status::NotFound("cachedimage/" + name + " does not exist after entry " +
                            std::to_string(at.seq) + " (" + FormatTimeMillis(at.time_ms) +
                            "); CachedImages then: " + Names(names));
  }
  v1::CachedImageStatus desired = DesiredStatus(state, ImageView(state, *r), at.time_ms);
  if (format == Format::kYaml) {
    out << "# cachedimage/" << name << " at " << PointText(at)
        << ": the status drop would write then; " << LastWrite(*r, desired) << "\n";
  }
  Print(CachedImageDocument(r->object(), desired), format, out);
  return Status::Ok();
}

// What drop counted for PullPolicy `key` (spec `spec`, record `p`; nullptr for the built-in one):
// why it cannot be used, its active pods, its last creation, its next evaluation, its images.
boost::json::object Pacing(const v1::State& state, const std::string& key,
                           const v1::PullPolicySpec& spec, const v1::PolicyRecord* p) {
  boost::json::object pacing;
  // Why no CachedImage under it pulls, if it cannot be used: a PullPolicy has no status to say so.
  if (std::string error = PullPolicyError(key, spec, p); !error.empty()) {
    pacing["specError"] = error;
  }
  boost::json::array active, images;
  for (const v1::PodRecord& pod : AllPods(state)) {
    if (pod.policy() == key && IsActive(pod))
      active.push_back(boost::json::string(pod.pod().name()));
  }
  for (const v1::ImageRecord& i : state.images()) {
    if (i.object().spec().pull_policy_ref() == key) {
      images.push_back(boost::json::string(i.object().name()));
    }
  }
  pacing["active"] = active.size();
  pacing["activePods"] = std::move(active);
  if (int64_t last = LastCreation(state, key); last > 0) {
    pacing["lastPodCreation"] = FormatTimeMillis(last);
  }
  if (const v1::Requeue* q = FindRequeue(state, MakeKey(v1::KIND_PULL_POLICY, key))) {
    pacing["nextEvaluation"] = FormatTimeMillis(q->at_ms());
  }
  pacing["cachedImages"] = std::move(images);
  return pacing;
}

// PullPolicy `key` as a document, with its pacing: its object, or for the built-in one (no record
// `p`) the default spec, named by PolicyName("").
boost::json::object PolicyDocument(const v1::State& state, const std::string& key,
                                   const v1::PolicyRecord* p) {
  v1::PullPolicy object;
  if (p != nullptr) {
    object = p->object();
  } else {
    *object.mutable_spec() = DefaultPolicySpec();
  }
  boost::json::object doc = PullPolicyDocument(object);
  doc["pacing"] = Pacing(state, key, object.spec(), p);
  return doc;
}

Status Policy(const v1::State& state, const Point& at, const std::string& name, Format format,
              std::ostream& out) {
  std::string key = name == kDefaultPolicyName ? "" : name;
  const v1::PolicyRecord* p = Find(state.policies(), key);
  if (p == nullptr && (key.empty() || name == "default")) {
    key = "";
  } else if (p == nullptr) {
    std::vector<std::string> names;
    for (const v1::PolicyRecord& x : state.policies())
      names.push_back(x.object().name());
    return Status::NotFound("pullpolicy/" + name + " does not exist after entry " +
                            std::to_string(at.seq) + " (" + FormatTimeMillis(at.time_ms) +
                            "); PullPolicies then: " + Names(names) + " (and pullpolicy/" +
                            PolicyName("") + ", the built-in one)");
  }
  boost::json::object doc = PolicyDocument(state, key, p);
  if (format == Format::kYaml) {
    out << "# pullpolicy/" << PolicyName(key) << " at " << PointText(at)
        << "; pacing: what drop counted then\n";
  }
  Print(doc, format, out);
  return Status::Ok();
}

Status NodeObject(const v1::State& state, const Point& at, const std::string& name, Format format,
                  std::ostream& out) {
  const v1::NodeRecord* n = Find(state.nodes(), name);
  if (n == nullptr) {
    return Status::NotFound("node/" + name + " does not exist after entry " +
                            std::to_string(at.seq) + " (" + FormatTimeMillis(at.time_ms) + "); " +
                            Count(state.nodes_size(), "node") + " then");
  }
  boost::json::object doc = NodeDocument(n->node());
  boost::json::array standing;
  for (const v1::ImageRecord& r : state.images()) {
    ImageView view(state, r);
    view.ForEachNode([&](const NodeFacts& f) {
      if (f.node->name() != name) return true;
      boost::json::object s;
      s["cachedImage"] = r.object().name();
      s["targeted"] = f.fit == Fit::kTargeted;
      if (f.fit != Fit::kTargeted) s["why"] = ExplainFit(*f.node, r.object().spec());
      s["cached"] = f.cached;
      if (f.pulled) s["pulledByDrop"] = true;
      if (f.present) s["listedInNodeStatus"] = true;
      if (f.pod != nullptr) {
        s["pod"] = f.pod->pod().name();
        s["podPhase"] = PodPhaseText(f.pod->pod());
      }
      if (f.failure != nullptr) {
        s["lastFailure"] =
            f.failure->reason() + " at " + FormatTimeMillis(f.failure->last_failure_time_ms());
      }
      standing.push_back(std::move(s));
      return false;
    });
  }
  doc["drop"] = boost::json::object{{"cachedImages", std::move(standing)}};
  if (format == Format::kYaml) {
    out << "# node/" << name << " at " << PointText(at)
        << "; drop: how each CachedImage stands on it\n";
  }
  Print(doc, format, out);
  return Status::Ok();
}

// The PullPolicies the state shows: the built-in default first, when a CachedImage uses it or it
// has paced a pull, then every recorded one.
std::vector<std::string> PolicyNames(const v1::State& state) {
  std::vector<std::string> names;
  bool default_used = LastCreation(state, "") > 0 || CountActive(state, "") > 0 ||
                      std::ranges::any_of(state.images(), [](const v1::ImageRecord& i) {
                        return i.object().spec().pull_policy_ref().empty();
                      });
  if (default_used) names.emplace_back();
  for (const v1::PolicyRecord& p : state.policies())
    names.push_back(p.object().name());
  return names;
}

void Everything(const v1::State& state, const Reader& r, const Point& at, Format format,
                std::ostream& out) {
  if (format != Format::kTable) {
    boost::json::array items;
    for (const v1::ImageRecord& i : state.images()) {
      items.push_back(
          CachedImageDocument(i.object(), DesiredStatus(state, ImageView(state, i), at.time_ms)));
    }
    for (const std::string& name : PolicyNames(state))  // with their pacing, as the table's columns
      items.push_back(PolicyDocument(state, name, Find(state.policies(), name)));
    for (const v1::NodeRecord& n : state.nodes())
      items.push_back(NodeDocument(n.node()));
    Print(List(std::move(items)), format, out);
    return;
  }
  out << "State at " << PointText(at) << " (" << Ago(at.time_ms, r.last_time())
      << "); statuses as drop would write them then.\n"
      << AwayNote(r, at) << '\n';
  Table images({"CACHEDIMAGE", "IMAGE", "POLICY", "PHASE", "READY", "FAILURES", "NEXT PULL",
                "REASON", "LAST WRITE"});
  for (const v1::ImageRecord& i : state.images()) {
    v1::CachedImageStatus s = DesiredStatus(state, ImageView(state, i), at.time_ms);
    const std::string& policy = i.object().spec().pull_policy_ref();
    images.Add({i.object().name(), i.object().spec().image(), PolicyName(policy), s.phase(),
                std::to_string(s.nodes_ready()) + "/" + std::to_string(s.nodes_targeted()),
                std::to_string(s.consecutive_failures()),
                s.next_pull_time_ms() > 0 ? FormatTimeMillis(s.next_pull_time_ms()) : "-",
                s.conditions_size() > 0 ? s.conditions(0).reason() : "-", LastWrite(i, s)});
  }
  if (!images.empty()) images.Print(out);
  out << '\n';
  Table policies({"PULLPOLICY", "MAX", "MIN DELAY", "ACTIVE", "LAST POD CREATED"});
  for (const std::string& name : PolicyNames(state)) {
    const v1::PullPolicySpec* spec = FindPolicySpec(state, name);
    int64_t last = LastCreation(state, name);
    int active = CountActive(state, name);
    policies.Add({PolicyName(name), std::to_string(spec->max_concurrent_nodes()),
                  FormatDuration(spec->min_delay_between_pulls_ms()), std::to_string(active),
                  last > 0 ? FormatTimeMillis(last) : "-"});
  }
  if (!policies.empty()) {
    policies.Print(out);
    out << '\n';
  }
  int ready = 0, unschedulable = 0;
  for (const v1::NodeRecord& n : state.nodes()) {
    ready += n.node().ready();
    unschedulable += n.node().unschedulable();
  }
  // A pod stuck on a pull error is neither active (rule 1 leaves it out) nor finished.
  int active = 0, finished = 0, stuck = 0;
  for (const v1::PodRecord& p : AllPods(state)) {
    active += IsActive(p);
    finished += p.finished_ms() > 0;
    stuck += p.finished_ms() == 0 && !IsActive(p) && IsImagePullError(p.pod().waiting_reason());
  }
  Table summary(
      {"NODES", "READY", "UNSCHEDULABLE", "DROP PODS", "ACTIVE", "ON PULL ERROR", "FINISHED"});
  summary.Add({std::to_string(state.nodes_size()), std::to_string(ready),
               std::to_string(unschedulable), std::to_string(PodCount(state)),
               std::to_string(active), std::to_string(stuck), std::to_string(finished)});
  summary.Print(out);
}

}  // namespace

Status ShowState(const Reader& r, const StateOptions& o, std::ostream& out) {
  std::string kind, name;
  if (!o.object.empty()) {
    auto parsed = ParseObject(o.object, "state", "cachedimage, pullpolicy or node");
    if (!parsed.ok()) return parsed.status();
    kind = parsed->first;
    name = parsed->second;
    if (kind != "cachedimage" && kind != "pullpolicy" && kind != "node") {
      return Status::InvalidArgument(
          "state " + o.object + ": state shows cachedimage/NAME, pullpolicy/NAME or node/NAME");
    }
  }
  if (!r.has_state()) return r.NoEntries();
  Result<Point> at = o.at.empty() ? Result<Point>(r.end()) : r.Resolve(o.at, "--at");
  if (!at.ok()) return at.status();
  Result<v1::State> state = r.StateAt(*at);
  if (!state.ok()) return state.status();
  Format format = o.format.value_or(kind.empty() ? Format::kTable : Format::kYaml);
  if (kind.empty()) {
    Everything(*state, r, *at, format, out);
    return Status::Ok();
  }
  if (format == Format::kTable) format = Format::kYaml;
  if (std::string note = AwayNote(r, *at); !note.empty() && format == Format::kYaml) {
    out << "# " << note;
  }
  if (kind == "cachedimage") return Image(*state, *at, name, format, out);
  if (kind == "pullpolicy") return Policy(*state, *at, name, format, out);
  return NodeObject(*state, *at, name, format, out);
}

}  // namespace drop::replay
