#include "replay/explain.h"

#include <algorithm>
#include <map>
#include <optional>
#include <unordered_map>

#include "core/duration.h"
#include "core/image_view.h"
#include "core/pacing.h"
#include "core/reconcile.h"
#include "core/scheduling.h"
#include "core/state.h"
#include "replay/describe.h"
#include "replay/history.h"
#include "replay/point.h"

namespace drop::replay {
namespace {

// "08:01:02" (or with milliseconds) when the journal lies within one day, else RFC 3339.
class Clock {
 public:
  explicit Clock(const Reader& r) {
    one_day_ = r.first_time() / (24 * kHour) == r.last_time() / (24 * kHour);
  }
  std::string operator()(int64_t ms) const {
    std::string full = FormatTimeMillis(ms);  // 2027-01-15T08:01:02.250Z
    if (!one_day_) return full;
    std::string t = full.substr(11, full.size() - 12);
    if (t.ends_with(".000")) t.resize(t.size() - 4);
    return t;
  }

 private:
  bool one_day_ = true;
};

std::string List(const std::vector<std::string>& names, size_t most = 5) {
  std::string s;
  for (size_t i = 0; i < names.size() && i < most; ++i)
    s += (i ? ", " : "") + names[i];
  if (names.size() > most) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

struct Story {
  std::string node;
  std::string standing;  // NotTargeted, Cached, Pulling, Failing, Starting, Failed, Waiting
  std::string text;
  std::string rule;  // the verdict or filter that decided it
  boost::json::object inputs;
};

class Explainer {
 public:
  Explainer(const Reader& r, const History& h, const v1::State& state, const Point& at,
            const v1::ImageRecord& image)
      : r_(r), h_(h), state_(state), at_(at), image_(image), clock_(r) {
    id_ = h.images.Find(image.object().name());
    policy_ = h.policies.Find(image.object().spec().pull_policy_ref());
    for (size_t i = 0; i < h.passes.size(); ++i) {
      if (h.passes[i].policy == policy_) passes_.push_back(&h.passes[i]);
    }
    std::vector<int64_t> ends;  // of the image's pulls, in time order
    for (const PullRecord& p : h.pulls) {
      if (p.image != id_) continue;
      pulls_[h.nodes[p.node]].push_back(&p);
      by_pod_[p.pod] = &p;
      if (p.end_ms > 0) ends.push_back(p.end_ms);
    }
    std::sort(ends.begin(), ends.end());
    // A backoff holds the image at the passes after the one that recorded it, which decide the
    // same and leave it out: until the image's next decision, the backoff's end, or the outcome of
    // one of its pulls (its failures change, or the pull it waited on ends).
    const PassRecord::Held* own = nullptr;
    int64_t since = 0;
    for (const PassRecord* pass : passes_) {
      bool decided = pass->next_image == id_;
      for (const PassRecord::Started& start : pass->started)
        decided = decided || start.image == id_;
      if (decided || std::upper_bound(ends.begin(), ends.end(), since) !=
                         std::upper_bound(ends.begin(), ends.end(), pass->time_ms)) {
        own = nullptr;
      }
      for (const PassRecord::Held& held : pass->held) {
        if (held.image != id_) continue;
        own = held.verdict == v1::WAIT_BACKOFF ? &held : nullptr;
        since = pass->time_ms;
      }
      if (own != nullptr && (own->not_before_ms == 0 || pass->time_ms < own->not_before_ms)) {
        held_[pass->reconcile_id] = own;
      }
    }
    // A pass that starts nothing and records no wait met the policy's last recorded wait again
    // (a repeat is left out of the journal): no pod was created since, and none can end without
    // a new record, as the counts the wait carries change. A start ends the carry.
    v1::Verdict last = v1::VERDICT_UNKNOWN;
    for (const PassRecord* pass : passes_) {
      if (pass->blocking != v1::VERDICT_UNKNOWN) {
        last = pass->blocking;
      } else if (pass->starts > 0) {
        last = v1::VERDICT_UNKNOWN;
      } else if (last != v1::VERDICT_UNKNOWN) {
        repeated_[pass->reconcile_id] = last;
      }
    }
  }

  // The pacing pass in force at the point, as it concerned this image.
  std::string Pacing(const ImageView& view) {
    bool wanting = false;
    view.ForEachNode([&](const NodeFacts& f) {
      wanting = f.fit == Fit::kTargeted && !f.cached;
      return !wanting;
    });
    // The last pass's verdict would describe a rollout that has ended.
    if (!wanting) return "nothing to pace: every targeted node holds the image";
    Story s;
    const PassRecord* pass = PassAt();
    std::string started;
    if (pass != nullptr) {
      std::vector<std::string> nodes;
      for (const PassRecord::Started& start : pass->started) {
        if (start.image == id_) nodes.push_back(h_.nodes[start.node]);
      }
      if (!nodes.empty()) {
        started = "Start: the pacing pass at " + clock_(pass->time_ms) + " started pulls on " +
                  List(nodes) + " (" + std::to_string(pass->active_after) + " of " +
                  std::to_string(pass->limit) +
                  (Partial(pass) ? " active by this point)" : " active after it)");
      }
      bool held = std::any_of(pass->held.begin(), pass->held.end(),
                              [&](const PassRecord::Held& x) { return x.image == id_; });
      // A failing image's one pull holds the rest at once, without a record: Rule names it.
      if (!started.empty() && !held && pass->blocking == v1::VERDICT_UNKNOWN &&
          !FailingStart(*pass)) {
        return started;
      }
    }
    Rule(view, &s);
    return started.empty() ? s.text : started + "; then " + s.text;
  }

  Story Tell(const NodeFacts& f, const ImageView& view) {
    Story s;
    s.node = f.node->name();
    const std::string at = clock_(at_.time_ms);
    const std::vector<const PullRecord*>& pulls = PullsOn(s.node);
    // The pull in progress or last finished at the point, and the first started after it.
    const PullRecord* current = nullptr;
    const PullRecord* later = nullptr;
    for (const PullRecord* p : pulls) {
      if (p->start_seq <= at_.seq || p->start_seq == 0) current = p;
      if (p->start_seq > at_.seq && later == nullptr) later = p;
    }
    if (f.fit != Fit::kTargeted) {
      s.standing = "NotTargeted";
      s.rule = FitName(f.fit);
      s.text = "not targeted — " + ExplainFit(*f.node, image_.object().spec());
      if (f.present) s.text += "; the image is listed in node.status.images anyway";
      s.inputs["filter"] = FitName(f.fit);
      return s;
    }
    if (f.cached) {
      s.standing = "Cached";
      if (!f.pulled) {
        s.rule = "ImagePresent";
        s.text =
            "cached — node.status.images lists the image, so no pull was needed "
            "(imagePullPolicy IfNotPresent)";
        return s;
      }
      s.rule = "Pulled";
      s.text = "cached";
      if (current != nullptr && current->outcome == v1::PULL_SUCCEEDED) {
        s.text += " — " + PullText(*current, true);
      } else {
        s.text += " — a drop pod pulled it before this part of the journal";
      }
      return s;
    }
    if (f.pod != nullptr && !f.pod->accounted()) {
      const bool failing = IsImagePullError(f.pod->pod().waiting_reason());
      s.standing = failing ? "Failing" : "Pulling";
      s.rule = s.standing;
      s.text = (failing ? "failing to pull at " : "pulling at ") + at + " — pod " +
               f.pod->pod().name() + " " + PodPhaseText(f.pod->pod());
      if (failing) {
        s.text +=
            " (not counted as active; drop counts the failure at the second "
            "ImagePullBackOff or at pullTimeout)";
      }
      if (current != nullptr && current->pod == f.pod->pod().name()) {
        s.text += ", started " + clock_(current->start_ms) + " when " + Trigger(*current) + "; " +
                  Ending(*current);
      }
      s.inputs["pod"] = f.pod->pod().name();
      return s;
    }
    s.standing = f.pod != nullptr ? "Failed" : "Waiting";
    s.text = "not pulled at " + at + " — ";
    if (f.pod != nullptr) {
      s.rule = "PodInTheWay";
      std::string failure =
          f.failure != nullptr
              ? f.failure->reason() +
                    (f.failure->message().empty() ? "" : ": " + f.failure->message())
              : "failed";
      // A pull failed on an image error is deleted at once (DESIGN.md section 2); one that
      // finished Failed stays for podTTLAfterFinished.
      const bool deleting = f.pod->delete_issued() || f.pod->pod().deleting();
      s.text += "its last pull (pod " + f.pod->pod().name() + ") failed at " +
                clock_(f.pod->finished_ms()) + ": " + failure +
                (deleting ? "; drop is deleting the pod, and the image's backoff decides when a "
                            "retry comes"
                          : "; the finished pod stays until its TTL or the image's backoff lets "
                            "a retry replace it");
      s.inputs["pod"] = f.pod->pod().name();
    } else if (later != nullptr && later->start_seq > at_.seq && Starting(s.node)) {
      // Between the pass's Start and its CreatePod.
      s.standing = "Starting";
      s.rule = "Start";
      s.text = "starting at " + at + " — the pacing pass started a pull on it when " +
               Trigger(*later) + "; pod " + later->pod + " is created in the next entry";
      if (later->end_ms > 0) s.text += ", " + Ending(*later);
      s.inputs["pod"] = later->pod;
      return s;
    } else {
      Rule(view, &s, later);
      LastFailure(f, current, &s);
    }
    const bool again = current != nullptr || f.failure != nullptr;
    if (later != nullptr) {
      s.text += (again ? "; started again " : "; started ") + clock_(later->start_ms) + " when " +
                Trigger(*later);
      if (later->end_ms > 0) s.text += ", " + Ending(*later);
    } else {
      s.text += (again ? "; not started again by the end of the journal ("
                       : "; not started by the end of the journal (") +
                clock_(r_.last_time()) + ")";
    }
    return s;
  }

 private:
  const std::vector<const PullRecord*>& PullsOn(const std::string& node) {
    static const std::vector<const PullRecord*> kNone;
    auto it = pulls_.find(node);
    return it == pulls_.end() ? kNone : it->second;
  }

  // "; its last pull (pod P) failed at T: reason" for a node whose failed pod is gone: the
  // failure the image's backoff counts. From the pull when the history has it, else from the
  // failure the CachedImage keeps (the pull lies before this part of the journal).
  void LastFailure(const NodeFacts& f, const PullRecord* last, Story* s) {
    // The CachedImage forgets a node's failures when its image changes: then they count no more.
    if (f.failure == nullptr) return;
    if (last != nullptr && last->end_ms > 0 && last->end_seq <= at_.seq &&
        last->outcome != v1::PULL_SUCCEEDED) {
      s->text += "; its last pull (pod " + last->pod + ") " + Ending(*last);
      s->inputs["lastPull"] = last->pod;
    } else {
      s->text += "; its last pull failed at " + clock_(f.failure->last_failure_time_ms()) + ": " +
                 f.failure->reason() +
                 (f.failure->message().empty() ? "" : ": " + f.failure->message());
    }
  }

  std::string Trigger(const PullRecord& p) {
    if (p.trigger_seq == 0) return "a pacing pass ran";
    if (p.trigger_seq < r_.first()) return "entry " + std::to_string(p.trigger_seq) + " arrived";
    Result<v1::Entry> e = r_.store().Get(p.trigger_seq);
    return e.ok() ? TriggerText(*e) : "entry " + std::to_string(p.trigger_seq) + " arrived";
  }

  std::string Ending(const PullRecord& p) {
    if (p.end_ms == 0) return "not finished by the end of the journal";
    if (p.outcome == v1::PULL_SUCCEEDED) {
      return "Succeeded at " + clock_(p.end_ms) + " (took " + FormatDuration(p.duration_ms) + ")";
    }
    return "failed at " + clock_(p.end_ms) + ": " + p.reason +
           (p.message.empty() ? "" : ": " + p.message);
  }

  // "pulled by pod P, started S when T, Succeeded at E (took D); waited W before: ..."
  std::string PullText(const PullRecord& p, bool with_wait) {
    std::string s = "pod " + p.pod + " started " + clock_(p.start_ms) + " when " + Trigger(p) +
                    ", " + Ending(p);
    if (with_wait && p.start_ms > p.wait_from_ms) {
      s += "; it had waited " + FormatDuration(p.start_ms - p.wait_from_ms) + " since " +
           clock_(p.wait_from_ms) + ": " + Breakdown(p.wait_from_ms, p.start_ms);
    }
    return s;
  }

  // The label of a pacing pass for this image: the rule that held it back.
  std::string Label(const PassRecord& pass) const {
    if (pass.invalid_spec) return "InvalidSpec";
    for (const PassRecord::Held& held : pass.held) {
      if (held.image == id_) return VerdictName(held.verdict);
    }
    if (auto held = held_.find(pass.reconcile_id); held != held_.end())
      return VerdictName(held->second->verdict);
    if (pass.blocking != v1::VERDICT_UNKNOWN) return VerdictName(pass.blocking);
    if (auto repeated = repeated_.find(pass.reconcile_id); repeated != repeated_.end())
      return VerdictName(repeated->second);
    return "its turn (other nodes first)";
  }

  // How the time [from, to) divides among the rules that held the image back.
  std::string Breakdown(int64_t from, int64_t to) const {
    std::map<std::string, int64_t> spent;
    auto first = std::upper_bound(passes_.begin(), passes_.end(), from,
                                  [](int64_t t, const PassRecord* p) { return t < p->time_ms; });
    if (first != passes_.begin()) --first;
    for (auto it = first; it != passes_.end() && (*it)->time_ms < to; ++it) {
      int64_t a = std::max(from, (*it)->time_ms);
      int64_t b = std::next(it) == passes_.end() ? to : std::min(to, (*std::next(it))->time_ms);
      if (b > a) spent[Label(**it)] += b - a;
    }
    std::vector<std::pair<int64_t, std::string>> order;
    for (const auto& [label, ms] : spent)
      order.push_back({-ms, label});
    std::sort(order.begin(), order.end());
    std::string s;
    for (const auto& [ms, label] : order)
      s += (s.empty() ? "" : ", ") + label + " " + FormatDuration(-ms);
    return s.empty() ? "no pacing pass ran meanwhile" : s;
  }

  // Why a candidate node was not started at the point: the pass in force then. `next`, for a
  // node, is its next pull, which says since when the node wanted the image.
  void Rule(const ImageView& view, Story* s, const PullRecord* next = nullptr) {
    const std::string who = PolicyDisplayName(image_.object().spec().pull_policy_ref());
    if (!view.spec_error().empty()) {
      s->rule = "InvalidSpec";
      s->text += "InvalidSpec: " + view.spec_error();
      return;
    }
    if (view.policy() == nullptr) {
      s->rule = "PullPolicyNotFound";
      s->text += "PullPolicyNotFound: " + who + " does not exist";
      return;
    }
    if (!Synced(state_)) {
      s->rule = "Relisting";
      s->text += "drop was relisting the cluster; a partial view decides nothing";
      return;
    }
    const PassRecord* pass = PassAt();
    if (pass == nullptr) {
      s->rule = "NoPass";
      s->text += "no pacing pass of " + who + " had run yet";
      return;
    }
    if (next != nullptr && next->wait_from_ms > pass->time_ms &&
        next->wait_from_ms <= at_.time_ms) {
      // The node came to want the image after the pass in force: no pass had weighed it yet.
      s->rule = "NoPassSince";
      s->text += "it wants the image since " + clock_(next->wait_from_ms) +
                 ", after the last pacing pass of " + who + " (at " + clock_(pass->time_ms) + ")";
      // At its limit, a pass that met the same wait again left no entry: say what holds it.
      const int active = CountActive(state_, image_.object().spec().pull_policy_ref());
      const int limit = view.policy()->max_concurrent_nodes();
      if (active >= limit) {
        s->text += "; " + std::to_string(active) + " of " + std::to_string(limit) +
                   " active under " + who + " then, its limit";
        s->inputs["active"] = active;
        s->inputs["limit"] = limit;
      }
      return;
    }
    const std::string pulls =
        std::to_string(pass->starts) + (pass->starts == 1 ? " pull" : " pulls");
    for (const PassRecord::Held& held : pass->held) {
      if (held.image != id_) continue;
      Result<v1::Entry> e = r_.store().Get(held.seq);
      if (!e.ok()) break;
      Held(e->pacing(), held.seq, *pass, view, who, s);
      return;
    }
    // A pass under way at the point that had not come to this image (a failing image it started
    // is held at once, below): what it decides next lies after the point.
    if (pass->blocking == v1::VERDICT_UNKNOWN && Partial(pass) && !FailingStart(*pass)) {
      s->rule = "InLine";
      s->text += "the pacing pass at " + clock_(pass->time_ms) +
                 " was under way and had not come to it by this point";
      if (pass->starts > 0) s->text += " (" + pulls + " started so far)";
      return;
    }
    // A wait on the image's own state that repeats the last one recorded for it is not recorded
    // again (a failing image's one pull at a time, mostly): the pass decided again names it.
    const Redecided& again = Redecide(*pass);
    if (again.own) {
      // The entry of the wait it repeats, when the breakdown's carry found it.
      auto recorded = held_.find(pass->reconcile_id);
      Held(*again.own, recorded != held_.end() ? recorded->second->seq : pass->reconcile_id, *pass,
           view, who, s);
      return;
    }
    // A failing image starts one pull in a pass, and the core holds the rest without a record.
    if (const std::optional<v1::Entry>& start = again.failing_start) {
      v1::PacingDecision d = start->pacing();
      d.set_verdict(v1::WAIT_BACKOFF);
      d.set_in_flight_pod(d.pod());
      d.clear_node();
      d.clear_pod();
      Held(d, start->seq(), *pass, view, who, s);
      // The decision cited is that Start: the hold is what it means for the other nodes.
      s->inputs["recordedVerdict"] = VerdictName(v1::START);
      return;
    }
    if (pass->blocking == v1::VERDICT_UNKNOWN && pass->starts == 0) {
      // A pass that started nothing and recorded no wait met a wait identical to one already in
      // the journal (the core records a repeated wait once): decide it again to name it.
      if (again.blocking) {
        Wait(*again.blocking, pass->reconcile_id, who, s);
        return;
      }
      // Else every image's turn ended without a word: this one had no targeted node lacking it
      // then (one that lacks it with a pod of it on every such node is a recorded NoEligibleNode).
      s->rule = "NoPassSince";
      s->text += "the last pacing pass of " + who + ", at " + clock_(pass->time_ms) +
                 ", found every targeted node holding the image, and none had run since";
      return;
    }
    if (pass->blocking == v1::VERDICT_UNKNOWN) {
      s->rule = "InLine";
      s->text += "its turn had not come: the pacing pass at " + clock_(pass->time_ms) +
                 " started " + pulls +
                 " and every image's next node got one (nodes go in name order, images in round "
                 "robin)";
      return;
    }
    Result<v1::Entry> e = r_.store().Get(pass->blocking_seq);
    if (!e.ok()) return;
    Wait(e->pacing(), pass->blocking_seq, who, s);
  }

  // The Start decision of the image in `pass` when it had consecutive failures: its one pull.
  std::optional<v1::Entry> FailingStart(const PassRecord& pass) const {
    for (const PassRecord::Started& start : pass.started) {
      if (start.image != id_) continue;
      auto pulls = pulls_.find(h_.nodes[start.node]);
      if (pulls == pulls_.end()) continue;
      for (const PullRecord* p : pulls->second) {
        if (p->start_ms != pass.time_ms || p->start_seq <= pass.reconcile_id) continue;
        Result<v1::Entry> e = r_.store().Get(p->start_seq - 1);  // the Start precedes its create
        if (e.ok() && e->has_pacing() && e->pacing().consecutive_failures() > 0) return *e;
      }
    }
    return std::nullopt;
  }

  // The story of a wait on the image's own state, `d` (a WaitBackoff or NoEligibleNode), decided
  // in `pass` at entry `seq`.
  void Held(const v1::PacingDecision& d, uint64_t seq, const PassRecord& pass,
            const ImageView& view, const std::string& who, Story* s) {
    s->rule = VerdictName(d.verdict());
    Inputs(d, seq, s);
    if (d.verdict() == v1::WAIT_BACKOFF && !d.in_flight_pod().empty()) {
      s->text += "WaitBackoff: cachedimage " + image_.object().name() + " is failing (" +
                 (d.consecutive_failures() > 0
                      ? std::to_string(d.consecutive_failures()) + " consecutive failures"
                      : "a pull of it waits on an image error") +
                 "), so one node at a time tries it: the next waits for pod " + d.in_flight_pod() +
                 InFlightText(view, d.in_flight_pod()) + Cite(seq, pass);
    } else if (d.verdict() == v1::WAIT_BACKOFF) {
      s->text += "WaitBackoff: " + std::to_string(d.consecutive_failures()) +
                 " consecutive failures of cachedimage " + image_.object().name() +
                 ", the last at " + clock_(d.last_failure_ms()) + "; backoff " +
                 FormatDuration(d.backoff_delay_ms()) + " under " + who + ": not before " +
                 clock_(d.not_before_ms()) + Cite(seq, pass);
    } else {
      std::vector<std::string> pods;
      for (const v1::PodRecord* p : view.pods()) {
        if (!p->accounted()) pods.push_back(p->pod().name() + " " + PodPhaseText(p->pod()));
      }
      s->text +=
          "NoEligibleNode: every targeted node lacking the image already had a drop pod of it "
          "at " +
          clock_(pass.time_ms) +
          (pods.empty() ? " (they have all finished since)" : " (pods " + List(pods) + ")");
    }
  }

  // Where a hold at `pass`, recorded at entry `seq`, comes from: the pass, or the earlier entry
  // that recorded it when the pass met it again (the core records a repeated wait once).
  std::string Cite(uint64_t seq, const PassRecord& pass) const {
    if (seq >= pass.reconcile_id) return " (pacing pass at " + clock_(pass.time_ms) + ")";
    Result<v1::Entry> e = r_.store().Get(seq);
    return " (recorded at " + (e.ok() ? clock_(e->time_ms()) + ", " : "") + "entry " +
           std::to_string(seq) + "; the pacing pass at " + clock_(pass.time_ms) + " met it again)";
  }

  // " on node-3, Pending (ErrImagePull), to end": where pod `name` of the image pulls, and how, at
  // the point, or that it has ended since.
  std::string InFlightText(const ImageView& view, const std::string& name) const {
    for (const v1::PodRecord* p : view.pods()) {
      if (p->pod().name() == name && !p->accounted()) {
        return " on " + p->pod().node() + ", " + PodPhaseText(p->pod()) + ", to end";
      }
    }
    // At a point within the pass that started it, before its create.
    if (auto pull = by_pod_.find(name); pull != by_pod_.end() && pull->second->start_seq > at_.seq)
      return " on " + h_.nodes[pull->second->node] + ", created in an entry to come, to end";
    return " to end (it has ended since)";
  }

  // The story of a WaitConcurrency or WaitMinDelay decision `d`, made at entry `seq`.
  void Wait(const v1::PacingDecision& d, uint64_t seq, const std::string& who, Story* s) {
    s->rule = VerdictName(d.verdict());
    Inputs(d, seq, s);
    std::string next = d.cached_image() == image_.object().name()
                           ? ""
                           : "; cachedimage " + d.cached_image() +
                                 " was next in line, and the rule holds every image under the "
                                 "policy";
    if (d.verdict() == v1::WAIT_CONCURRENCY) {
      std::vector<std::string> pods = ActivePods(seq - 1);
      s->text += "WaitConcurrency: " + std::to_string(d.active()) + " of " +
                 std::to_string(d.limit()) + " active under " + who + " (pods " + List(pods) + ")" +
                 next;
    } else {
      s->text += "WaitMinDelay: the last drop pod under " + who + " was created at " +
                 clock_(d.last_creation_ms()) + " and minDelayBetweenPulls is " +
                 FormatDuration(d.min_delay_ms()) + ": not before " + clock_(d.not_before_ms()) +
                 next;
    }
  }

  // A pass decided again on the state it saw, without the record of earlier waits: the waits the
  // journal left out as repeats of ones recorded before.
  struct Redecided {
    // This image's wait on its own state.
    std::optional<v1::PacingDecision> own;
    // The WaitConcurrency or WaitMinDelay that ended the pass.
    std::optional<v1::PacingDecision> blocking;
    // The image's Start in the pass when it had failures: its one pull (FailingStart).
    std::optional<v1::Entry> failing_start;
  };
  const Redecided& Redecide(const PassRecord& pass) {
    auto [cached, fresh] = redecided_.try_emplace(pass.reconcile_id);
    if (fresh) cached->second = RedecideOnce(pass);
    return cached->second;
  }

  Redecided RedecideOnce(const PassRecord& pass) {
    Redecided out;
    out.failing_start = FailingStart(pass);
    Result<v1::State> before = r_.store().StateAt(pass.reconcile_id - 1);
    if (!before.ok()) return out;
    for (v1::ImageRecord& image : *before->mutable_images())
      image.clear_last_wait();
    for (const v1::Entry& e :
         PacePolicy(*before, image_.object().spec().pull_policy_ref(), pass.time_ms)) {
      if (!e.has_pacing()) continue;
      const v1::PacingDecision& d = e.pacing();
      if (d.verdict() == v1::WAIT_CONCURRENCY || d.verdict() == v1::WAIT_MIN_DELAY) {
        out.blocking = d;
      } else if ((d.verdict() == v1::WAIT_BACKOFF || d.verdict() == v1::NO_ELIGIBLE_NODE) &&
                 d.cached_image() == image_.object().name()) {
        out.own = d;
      }
    }
    return out;
  }

  // The pass in force at the point (the same for every node: found once): the last one that
  // had decided something by then, cut at the point when the point lies within it. A reconcileID
  // in drop's log names a pass's first entry, which decides nothing yet: the pass before it is in
  // force there.
  const PassRecord* PassAt() {
    if (pass_at_) return *pass_at_;
    pass_at_ = nullptr;
    auto after =
        std::upper_bound(passes_.begin(), passes_.end(), at_.seq,
                         [](uint64_t seq, const PassRecord* p) { return seq < p->reconcile_id; });
    while (after != passes_.begin()) {
      const PassRecord* pass = *--after;
      if (pass->last_seq <= at_.seq) {
        pass_at_ = pass;
        break;
      }
      if (PassRecord cut = Cut(*pass, at_.seq); Decided(cut)) {
        partial_ = std::move(cut);
        pass_at_ = &*partial_;
        break;
      }
    }
    return *pass_at_;
  }

  // `pass` as it stood after entry `seq`: its decisions up to it.
  static PassRecord Cut(const PassRecord& pass, uint64_t seq) {
    PassRecord cut = pass;
    cut.last_seq = seq;
    std::erase_if(cut.started, [&](const PassRecord::Started& s) { return s.seq > seq; });
    std::erase_if(cut.held, [&](const PassRecord::Held& h) { return h.seq > seq; });
    cut.starts = static_cast<int>(cut.started.size());
    if (cut.active_before >= 0) cut.active_after = cut.active_before + cut.starts;
    if (cut.blocking_seq > seq) {
      cut.blocking = v1::VERDICT_UNKNOWN;
      cut.blocking_seq = 0;
      cut.next_image = -1;
      cut.not_before_ms = 0;
    }
    return cut;
  }

  // Whether `pass` is the pass in force cut at the point: it decides more after it.
  bool Partial(const PassRecord* pass) const { return partial_ && pass == &*partial_; }

  static bool Decided(const PassRecord& pass) {
    return !pass.started.empty() || !pass.held.empty() || pass.blocking != v1::VERDICT_UNKNOWN;
  }

  // Whether the pass in force started a pull on `node` whose create comes after the point.
  bool Starting(const std::string& node) {
    const PassRecord* pass = PassAt();
    if (pass == nullptr || !Partial(pass)) return false;
    const int id = h_.nodes.Find(node);
    return std::any_of(
        pass->started.begin(), pass->started.end(),
        [&](const PassRecord::Started& s) { return s.image == id_ && s.node == id; });
  }

  // The drop pods active under the policy after entry `seq` (remembered: every node waiting on
  // one pass asks for the same).
  const std::vector<std::string>& ActivePods(uint64_t seq) {
    auto [cached, fresh] = active_pods_.try_emplace(seq);
    if (fresh) cached->second = ActivePodsOnce(seq);
    return cached->second;
  }

  std::vector<std::string> ActivePodsOnce(uint64_t seq) {
    std::vector<std::string> names;
    Result<v1::State> s = r_.store().StateAt(seq);
    if (!s.ok()) return names;
    const std::string& policy = image_.object().spec().pull_policy_ref();
    for (const v1::PodRecord& p : AllPods(*s)) {
      if (p.policy() == policy && IsActive(p)) names.push_back(p.pod().name());
    }
    return names;
  }

  void Inputs(const v1::PacingDecision& d, uint64_t seq, Story* s) {
    boost::json::object& in = s->inputs;
    in["decision"] = seq;
    in["verdict"] = VerdictName(d.verdict());
    in["nextInLine"] = d.cached_image();
    if (d.limit() > 0) {  // a wait on the image's own state carries no counts of the policy
      in["active"] = d.active();
      in["limit"] = d.limit();
      in["minDelayBetweenPulls"] = FormatDuration(d.min_delay_ms());
    }
    if (d.last_creation_ms() > 0) in["lastCreation"] = FormatTimeMillis(d.last_creation_ms());
    in["consecutiveFailures"] = d.consecutive_failures();
    if (d.last_failure_ms() > 0) in["lastFailure"] = FormatTimeMillis(d.last_failure_ms());
    if (d.backoff_delay_ms() > 0) in["backoffDelay"] = FormatDuration(d.backoff_delay_ms());
    if (d.not_before_ms() > 0) in["notBefore"] = FormatTimeMillis(d.not_before_ms());
    if (!d.in_flight_pod().empty()) in["inFlightPod"] = d.in_flight_pod();
    if (d.verdict() == v1::WAIT_CONCURRENCY) {
      boost::json::array pods;
      for (const std::string& p : ActivePods(seq - 1))
        pods.push_back(boost::json::string(p));
      in["activePods"] = std::move(pods);
    }
  }

  const Reader& r_;
  const History& h_;
  const v1::State& state_;
  Point at_;
  const v1::ImageRecord& image_;
  Clock clock_;
  int id_ = -1, policy_ = -1;
  std::vector<const PassRecord*> passes_;
  // The passes (by reconcile ID) a backoff recorded at an earlier pass held the image at, and
  // that record.
  std::map<uint64_t, const PassRecord::Held*> held_;
  // The passes that met the policy's last recorded WaitConcurrency or WaitMinDelay again.
  std::map<uint64_t, v1::Verdict> repeated_;
  std::map<std::string, std::vector<const PullRecord*>> pulls_;
  std::unordered_map<std::string, const PullRecord*> by_pod_;  // the image's pulls by pod name
  std::optional<const PassRecord*> pass_at_;
  std::optional<PassRecord> partial_;  // the pass in force, cut at the point within it
  std::map<uint64_t, std::vector<std::string>> active_pods_;
  std::map<uint64_t, Redecided> redecided_;
};

}  // namespace

Status Explain(const Reader& r, const ExplainOptions& o, std::ostream& out) {
  // Explain tells only a CachedImage's story: a bare NAME is one.
  auto object =
      ParseObject(o.object.find('/') == std::string::npos ? "cachedimage/" + o.object : o.object,
                  "explain", "cachedimage");
  if (!object.ok()) return object.status();
  if (object->first != "cachedimage") {
    return Status::InvalidArgument("explain " + o.object +
                                   ": explain tells the story of a cachedimage/NAME");
  }
  const std::string& name = object->second;
  if (r.empty()) return r.NoEntries();
  Result<Point> at = o.at.empty() ? Result<Point>(r.end()) : r.Resolve(o.at, "--at");
  if (!at.ok()) return at.status();
  Result<v1::State> state = r.StateAt(*at);
  if (!state.ok()) return state.status();
  const v1::ImageRecord* image = Find(state->images(), name);
  if (image == nullptr) {
    std::string names;
    for (const v1::ImageRecord& i : state->images())
      names += (names.empty() ? "" : ", ") + i.object().name();
    return Status::NotFound("cachedimage/" + name + " does not exist after entry " +
                            std::to_string(at->seq) + " (" + FormatTimeMillis(at->time_ms) +
                            "); CachedImages then: " + (names.empty() ? "none" : names));
  }
  if (!o.node.empty() && Find(state->nodes(), o.node) == nullptr) {
    return Status::NotFound("node/" + o.node + " does not exist after entry " +
                            std::to_string(at->seq) + " (" + FormatTimeMillis(at->time_ms) + "); " +
                            Count(state->nodes_size(), "node") + " then");
  }
  HistoryOptions ho;
  ho.only_image = name;
  ho.only_policy = image->object().spec().pull_policy_ref();
  Result<History> history = History::Scan(r, r.origin(), r.last(), ho);
  if (!history.ok()) return history.status();

  ImageView view(*state, *image);
  v1::CachedImageStatus status = DesiredStatus(*state, view, at->time_ms);
  Explainer explainer(r, *history, *state, *at, *image);
  const std::string pacing = explainer.Pacing(view);
  std::vector<Story> stories;
  view.ForEachNode([&](const NodeFacts& f) {
    if (o.node.empty() || f.node->name() == o.node) stories.push_back(explainer.Tell(f, view));
    return true;
  });

  const v1::PullPolicySpec& policy = view.effective_policy();
  const std::string& policy_name = image->object().spec().pull_policy_ref();
  if (o.format != Format::kTable) {
    boost::json::object doc;
    doc["cachedImage"] = name;
    doc["image"] = image->object().spec().image();
    doc["at"] = boost::json::object{{"seq", at->seq}, {"time", FormatTimeMillis(at->time_ms)}};
    doc["phase"] = status.phase();
    doc["nodesTargeted"] = status.nodes_targeted();
    doc["nodesReady"] = status.nodes_ready();
    doc["pacing"] = pacing;
    boost::json::array nodes;
    for (Story& s : stories) {
      nodes.push_back(boost::json::object{{"node", s.node},
                                          {"standing", s.standing},
                                          {"rule", s.rule},
                                          {"story", s.text},
                                          {"inputs", std::move(s.inputs)}});
    }
    doc["nodes"] = std::move(nodes);
    Print(doc, o.format, out);
    return Status::Ok();
  }
  out << "cachedimage/" << name << " (" << image->object().spec().image() << ") at "
      << PointText(*at) << ": " << status.phase() << ", " << status.nodes_ready() << " of "
      << status.nodes_targeted() << " targeted nodes hold the image.\n"
      << "Paced by " << PolicyDisplayName(policy_name) << ": maxConcurrentNodes "
      << policy.max_concurrent_nodes() << ", minDelayBetweenPulls "
      << FormatDuration(policy.min_delay_between_pulls_ms()) << ", backoff "
      << FormatDuration(policy.backoff().initial_delay_ms()) << " x" << policy.backoff().factor()
      << " up to " << FormatDuration(policy.backoff().max_delay_ms()) << ".\n"
      << "Pacing at " << FormatTimeMillis(at->time_ms) << ": " << pacing << "\n"
      << AwayNote(r, *at) << '\n';
  for (const Story& s : stories)
    out << s.node << ": " << s.text << '\n';
  return Status::Ok();
}

}  // namespace drop::replay
