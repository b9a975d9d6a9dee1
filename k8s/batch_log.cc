#include "k8s/batch_log.h"

#include <map>
#include <string>

#include "core/duration.h"
#include "core/pacing.h"
#include "core/state.h"

namespace drop::k8s {
namespace {

const char* Controller(const v1::Key& key) {
  return key.kind() == v1::KIND_PULL_POLICY ? "pullpolicy" : "cachedimage";
}

const char* KindName(v1::ObjectKind kind) {
  switch (kind) {
    case v1::KIND_CACHED_IMAGE:
      return "CachedImage";
    case v1::KIND_PULL_POLICY:
      return "PullPolicy";
    case v1::KIND_DISCOVERY_POLICY:
      return "DiscoveryPolicy";
    case v1::KIND_NODE:
      return "Node";
    case v1::KIND_POD:
      return "Pod";
    default:
      return "Unknown";
  }
}

// The fields that tie a line to the reconcile `id` of `key`.
void Reconcile(uint64_t id, const v1::Key& key, boost::json::object* f) {
  (*f)["controller"] = Controller(key);
  (*f)["reconcileID"] = std::to_string(id);
  if (key.kind() == v1::KIND_PULL_POLICY) {
    (*f)["pullpolicy"] = PolicyName(key.name());
  } else {
    (*f)["cachedimage"] = key.name();
  }
}

// The actions whose outcome comes back as an ActionResult (an Event's does not).
bool Answered(const v1::ActionIssued& a) {
  return a.has_create_pod() || a.has_delete_pod() || a.has_patch_status();
}

}  // namespace

void BatchLog::operator()(std::span<const v1::Entry> batch) {
  Logger& log = log_;
  std::map<uint64_t, const v1::Key*> reconciles;  // reconcileID -> key
  for (const v1::Entry& e : batch) {
    boost::json::object f;
    if (e.reconcile_id() != 0) {
      auto it = reconciles.find(e.reconcile_id());
      if (e.has_reconcile()) it = reconciles.emplace(e.seq(), &e.reconcile().key()).first;
      if (it != reconciles.end()) {
        Reconcile(e.reconcile_id(), *it->second, &f);
        if (e.has_action() && Answered(e.action())) {
          pending_[e.seq()] = Issuer{e.reconcile_id(), *it->second};
          if (pending_.size() > kMaxPending) pending_.erase(pending_.begin());
        }
      }
    }
    f["seq"] = e.seq();
    switch (e.kind_case()) {
      case v1::Entry::kReconcile:
        if (log.Enabled(Level::kDebug)) {
          f["trigger"] = e.reconcile().trigger_seq();
          log.Debug("reconcile", std::move(f));
        }
        break;
      case v1::Entry::kPacing:
        if (log.Enabled(Level::kDebug)) {
          const v1::PacingDecision& p = e.pacing();
          f["verdict"] = VerdictName(p.verdict());
          if (p.limit() > 0) {  // a wait on the image's own state carries no policy counts
            f["active"] = p.active();
            f["limit"] = p.limit();
          }
          if (!p.node().empty()) f["node"] = p.node();
          if (p.not_before_ms() > 0) f["notBefore"] = FormatTimeMillis(p.not_before_ms());
          if (!p.in_flight_pod().empty()) f["inFlightPod"] = p.in_flight_pod();
          log.Debug("pacing decision", std::move(f));
        }
        break;
      case v1::Entry::kOutcome: {
        const v1::PullOutcome& o = e.outcome();
        f["node"] = o.node();
        f["pod"] = o.pod();
        f["durationSeconds"] = static_cast<double>(o.duration_ms()) / 1000.0;
        if (o.outcome() == v1::PULL_SUCCEEDED) {
          log.Info("pull succeeded", std::move(f));
        } else {
          f["reason"] = o.reason();
          f["message"] = o.message();
          log.Warn("pull failed", std::move(f));
        }
        break;
      }
      case v1::Entry::kAction: {
        const v1::ActionIssued& a = e.action();
        if (a.has_create_pod()) {
          f["pod"] = a.create_pod().pod().name();
          f["node"] = a.create_pod().pod().node();
          f["image"] = a.create_pod().pod().image();
          log.Info("creating drop pod", std::move(f));
        } else if (a.has_delete_pod()) {
          f["pod"] = a.delete_pod().name();
          f["reason"] = a.delete_pod().reason();
          log.Info("deleting drop pod", std::move(f));
        } else if (a.has_patch_status()) {
          const v1::CachedImageStatus& s = a.patch_status().status();
          // A pacing pass writes the status of an image it held (its nextPullTime) too.
          f["cachedimage"] = a.patch_status().cached_image();
          f["phase"] = s.phase();
          f["nodesReady"] = s.nodes_ready();
          f["nodesTargeted"] = s.nodes_targeted();
          if (s.conditions_size() > 0) f["reason"] = s.conditions(0).reason();
          log.Info("writing status", std::move(f));
        } else if (a.has_emit_event() && a.emit_event().kind() == v1::KIND_PULL_POLICY &&
                   a.emit_event().reason() == kInvalidSpec) {
          // Its spec error, told once a generation: a PullPolicy has no status to show it.
          f["reason"] = a.emit_event().reason();
          f["message"] = a.emit_event().message();
          log.Warn("PullPolicy is invalid", std::move(f));
        } else if (a.has_emit_event() && log.Enabled(Level::kDebug)) {
          f["reason"] = a.emit_event().reason();
          f["message"] = a.emit_event().message();
          log.Debug("event", std::move(f));
        } else if (a.has_requeue() && log.Enabled(Level::kDebug)) {
          f["at"] = FormatTimeMillis(a.requeue().at_ms());
          log.Debug("requeue", std::move(f));
        }
        break;
      }
      case v1::Entry::kActionResult: {
        const v1::ActionResult& r = e.action_result();
        auto issuer = pending_.find(r.action_seq());
        if (issuer != pending_.end()) {
          Reconcile(issuer->second.reconcile_id, issuer->second.key, &f);
          pending_.erase(issuer);
        }
        bool expected = r.ok() || r.reason() == "AlreadyExists" ||
                        (r.kind() == v1::ACTION_DELETE_POD && r.reason() == "NotFound");
        if (expected) break;
        f["actionSeq"] = r.action_seq();
        f["target"] = r.target();
        f["code"] = r.http_code();
        f["reason"] = r.reason();
        f["message"] = r.message();
        log.Warn("API write failed", std::move(f));
        break;
      }
      case v1::Entry::kRelistBegin:
        f["kind"] = KindName(e.relist_begin().kind());
        f["reason"] = e.relist_begin().reason();
        log.Info("relist started", std::move(f));
        break;
      case v1::Entry::kRelistEnd:
        f["kind"] = KindName(e.relist_end().kind());
        f["resourceVersion"] = e.relist_end().resource_version();
        log.Info("relist done", std::move(f));
        break;
      case v1::Entry::kStarted:
        f["version"] = e.started().config().version();
        f["identity"] = e.started().config().identity();
        log.Info("operator started", std::move(f));
        break;
      default:
        break;
    }
  }
}

}  // namespace drop::k8s
