#include "replay/describe.h"

#include <google/protobuf/stubs/strutil.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/chars.h"
#include "core/duration.h"
#include "core/pacing.h"
#include "core/state.h"
#include "core/step.h"
#include "core/utf8.h"

namespace drop::replay {
namespace {

const char* EventName(v1::EventType t) {
  switch (t) {
    case v1::ADDED:
      return "ADDED";
    case v1::MODIFIED:
      return "MODIFIED";
    case v1::DELETED:
      return "DELETED";
    case v1::LISTED:
      return "LISTED";
    default:
      return "UNKNOWN";
  }
}

const char* ObjectKindName(v1::ObjectKind k) {
  switch (k) {
    case v1::KIND_CACHED_IMAGE:
      return "cachedimages";
    case v1::KIND_PULL_POLICY:
      return "pullpolicies";
    case v1::KIND_DISCOVERY_POLICY:
      return "discoverypolicies";
    case v1::KIND_NODE:
      return "nodes";
    case v1::KIND_POD:
      return "pods";
    default:
      return "unknown";
  }
}

const char* ActionName(v1::ActionKind k) {
  switch (k) {
    case v1::ACTION_CREATE_POD:
      return "create";
    case v1::ACTION_DELETE_POD:
      return "delete";
    case v1::ACTION_PATCH_STATUS:
      return "status write";
    case v1::ACTION_EMIT_EVENT:
      return "event";
    case v1::ACTION_REQUEUE:
      return "requeue";
    default:
      return "action";
  }
}

std::string Policy(const std::string& name) {
  return "pullpolicy/" + PolicyName(name);
}

std::string NodeText(const v1::Node& n) {
  std::string s = n.ready() ? "Ready" : "NotReady";
  if (n.unschedulable()) s += ",SchedulingDisabled";
  if (n.taints_size() > 0) s += ", " + Count(n.taints_size(), "taint");
  return s + ", " + Count(n.image_hashes_size(), "image");
}

}  // namespace

const char* PodPhaseName(v1::PodPhase phase) {
  switch (phase) {
    case v1::POD_PENDING:
      return "Pending";
    case v1::POD_RUNNING:
      return "Running";
    case v1::POD_SUCCEEDED:
      return "Succeeded";
    case v1::POD_FAILED:
      return "Failed";
    default:
      return "Unknown";
  }
}

std::string PodPhaseText(const v1::Pod& pod) {
  // A pod drop created that the watch has not shown yet: it has no phase, and Kubernetes'
  // Unknown (its node out of touch) would mislead.
  if (pod.phase() == v1::POD_PHASE_UNKNOWN && pod.creation_time_ms() == 0) return "Creating";
  std::string s = PodPhaseName(pod.phase());
  if (!pod.waiting_reason().empty()) s += " (" + pod.waiting_reason() + ")";
  if (pod.phase() == v1::POD_FAILED && !pod.terminated_reason().empty()) {
    s += " (" + pod.terminated_reason() + ", exit code " + std::to_string(pod.exit_code()) + ")";
  }
  if (pod.deleting()) s += ", deleting";
  return s;
}

std::string KindName(const v1::Entry& e) {
  switch (e.kind_case()) {
    case v1::Entry::kWatch:
      return "watch";
    case v1::Entry::kRelistBegin:
      return "relist-begin";
    case v1::Entry::kRelistEnd:
      return "relist-end";
    case v1::Entry::kTimer:
      return "timer";
    case v1::Entry::kActionResult:
      return "result";
    case v1::Entry::kDiscovery:
      return "discovery";
    case v1::Entry::kStarted:
      return "started";
    case v1::Entry::kReconcile:
      return "reconcile";
    case v1::Entry::kPacing:
      return "pacing";
    case v1::Entry::kOutcome:
      return "outcome";
    case v1::Entry::kAction:
      switch (e.action().action_case()) {
        case v1::ActionIssued::kCreatePod:
          return "create-pod";
        case v1::ActionIssued::kDeletePod:
          return "delete-pod";
        case v1::ActionIssued::kPatchStatus:
          return "patch-status";
        case v1::ActionIssued::kEmitEvent:
          return "event";
        case v1::ActionIssued::kRequeue:
          return "requeue";
        default:
          return "action";
      }
    default:
      return "unknown";
  }
}

const std::vector<std::string>& KindFilters() {
  static const std::vector<std::string> kinds = {
      "input",   "decision",   "action",     "watch",        "relist-begin", "relist-end",
      "timer",   "result",     "discovery",  "started",      "reconcile",    "pacing",
      "outcome", "create-pod", "delete-pod", "patch-status", "event",        "requeue"};
  return kinds;
}

bool KindMatches(const v1::Entry& e, std::string_view filter) {
  if (filter == "input") return !IsDecision(e);
  if (filter == "decision") return IsDecision(e);
  if (filter == "action") return e.has_action();
  return KindName(e) == filter;
}

std::vector<std::string> ObjectsOf(const v1::Entry& e) {
  std::vector<std::string> out;
  auto pod = [&](const std::string& name, const std::string& image, const std::string& node) {
    if (!name.empty()) out.push_back("pod/" + name);
    if (!image.empty()) out.push_back("cachedimage/" + image);
    if (!node.empty()) out.push_back("node/" + node);
  };
  switch (e.kind_case()) {
    case v1::Entry::kWatch: {
      const v1::WatchEvent& w = e.watch();
      if (w.has_node()) out.push_back("node/" + w.node().name());
      if (w.has_cached_image()) out.push_back("cachedimage/" + w.cached_image().name());
      if (w.has_pull_policy()) out.push_back("pullpolicy/" + w.pull_policy().name());
      if (w.has_discovery_policy()) {
        out.push_back("discoverypolicy/" + w.discovery_policy().name());
      }
      if (w.has_pod()) pod(w.pod().name(), w.pod().cached_image(), w.pod().node());
      break;
    }
    case v1::Entry::kTimer:
      out.push_back(KeyString(e.timer().key()));
      break;
    case v1::Entry::kActionResult: {
      const v1::ActionResult& r = e.action_result();
      if (r.kind() == v1::ACTION_PATCH_STATUS || r.kind() == v1::ACTION_EMIT_EVENT) {
        out.push_back("cachedimage/" + r.target());
      } else {
        pod(r.target(), r.cached_image(), r.node());
      }
      break;
    }
    case v1::Entry::kDiscovery:
      out.push_back("discoverypolicy/" + e.discovery().policy());
      break;
    case v1::Entry::kReconcile:
      out.push_back(KeyString(e.reconcile().key()));
      break;
    case v1::Entry::kPacing: {
      const v1::PacingDecision& d = e.pacing();
      out.push_back(Policy(d.policy()));
      out.push_back("cachedimage/" + d.cached_image());
      if (!d.node().empty()) out.push_back("node/" + d.node());
      if (!d.pod().empty()) out.push_back("pod/" + d.pod());
      if (!d.in_flight_pod().empty()) out.push_back("pod/" + d.in_flight_pod());
      break;
    }
    case v1::Entry::kOutcome:
      pod(e.outcome().pod(), e.outcome().cached_image(), e.outcome().node());
      break;
    case v1::Entry::kAction: {
      const v1::ActionIssued& a = e.action();
      if (a.has_create_pod()) {
        const v1::DropPodSpec& p = a.create_pod().pod();
        pod(p.name(), p.cached_image(), p.node());
        out.push_back(Policy(a.create_pod().policy()));
      } else if (a.has_delete_pod()) {
        pod(a.delete_pod().name(), a.delete_pod().cached_image(), a.delete_pod().node());
      } else if (a.has_patch_status()) {
        const v1::CachedImageStatus& s = a.patch_status().status();
        out.push_back("cachedimage/" + a.patch_status().cached_image());
        // The nodes the status names: those that hold the image (where the entry lists them: the
        // journal keeps only a digest of the list, CachedImageStatus) and those that failed.
        for (const std::string& n : s.cached_nodes())
          out.push_back("node/" + n);
        for (const v1::FailedNode& f : s.failed_nodes()) {
          if (!std::binary_search(s.cached_nodes().begin(), s.cached_nodes().end(), f.node())) {
            out.push_back("node/" + f.node());
          }
        }
      } else if (a.has_emit_event()) {
        v1::Key k = MakeKey(a.emit_event().kind(), a.emit_event().name());
        out.push_back(KeyString(k));
        // A pull's Event (PullStarted, PullSucceeded, PullFailed) names its node in its message
        // only: "Pulling web:1 on node gpu-7 (pod ...)".
        const std::string& message = a.emit_event().message();
        constexpr std::string_view kOnNode = " on node ";
        if (size_t at = message.find(kOnNode); at != std::string::npos) {
          size_t from = at + kOnNode.size(), end = from;
          while (end < message.size() &&
                 (IsLowerAlnum(message[end]) || message[end] == '-' || message[end] == '.')) {
            ++end;
          }
          if (end > from) out.push_back("node/" + message.substr(from, end - from));
        }
      } else if (a.has_requeue()) {
        out.push_back(KeyString(a.requeue().key()));
      }
      break;
    }
    default:
      break;
  }
  return out;
}

namespace {

// The JSON of a field protobuf's JSON mapping leaves out for holding its default.
boost::json::value DefaultOf(const google::protobuf::FieldDescriptor* f) {
  using google::protobuf::FieldDescriptor;
  if (f->is_map()) return boost::json::object();
  if (f->is_repeated()) return boost::json::array();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_BOOL:
      return false;
    case FieldDescriptor::CPPTYPE_STRING:
      return "";
    case FieldDescriptor::CPPTYPE_ENUM:
      return f->default_value_enum()->name().c_str();
    case FieldDescriptor::CPPTYPE_UINT64:
      return f->type() == FieldDescriptor::TYPE_FIXED64 ? boost::json::value("0") : 0;
    default:
      return 0;
  }
}

// `o`, a message of type `d` as protobuf's JSON mapping writes it, as EntryDocument gives it:
// its fields in the order the schema declares them, those left out for their default put in
// (not messages, nor fields that track their presence: those stay absent), the int64 and uint64
// fields as numbers, and text as itself. (The mapping's own option for defaults builds a tree of
// every field of every message: four times slower.) False when a text is not UTF-8.
bool Complete(const google::protobuf::Descriptor* d, boost::json::object* o) {
  using google::protobuf::FieldDescriptor;
  boost::json::object out;
  out.reserve(o->size());
  bool text = true;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    auto it = o->find(f->json_name());
    if (it == o->end()) {
      if (f->is_repeated() ||
          (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE && !f->has_presence())) {
        out.emplace(f->json_name(), DefaultOf(f));
      }
      continue;
    }
    const FieldDescriptor* v = f->is_map() ? f->message_type()->map_value() : f;
    auto convert = [v, &text](boost::json::value& x) {
      if (v->type() == FieldDescriptor::TYPE_MESSAGE) {
        if (x.is_object()) text = Complete(v->message_type(), &x.as_object()) && text;
        return;
      }
      if (!x.is_string()) return;
      std::string_view written = x.as_string();
      if (v->type() == FieldDescriptor::TYPE_BYTES) {
        std::string decoded;
        text = google::protobuf::Base64Unescape(written, &decoded) && IsUtf8(decoded) && text;
        x = decoded;
        return;
      }
      const char* end = written.data() + written.size();
      // Beyond 2^53 - 1 a double (jq, JavaScript) may round it: such a value, a sentinel near
      // int64's limit in practice, keeps its string.
      constexpr uint64_t kExact = (uint64_t{1} << 53) - 1;
      if (v->type() == FieldDescriptor::TYPE_INT64 || v->type() == FieldDescriptor::TYPE_SINT64 ||
          v->type() == FieldDescriptor::TYPE_SFIXED64) {
        int64_t n = 0;
        if (std::from_chars(written.data(), end, n).ptr == end &&
            (n < 0 ? uint64_t(-(n + 1)) + 1 : uint64_t(n)) <= kExact) {
          x = n;
        }
      } else if (v->type() == FieldDescriptor::TYPE_UINT64) {
        uint64_t n = 0;
        if (std::from_chars(written.data(), end, n).ptr == end && n <= kExact) x = n;
      }
    };
    boost::json::value& value = it->value();
    if (f->is_map() && value.is_object()) {
      for (auto& kv : value.as_object())
        convert(kv.value());
    } else if (f->is_repeated() && value.is_array()) {
      for (boost::json::value& x : value.as_array())
        convert(x);
    } else {
      convert(value);
    }
    out.emplace(f->json_name(), std::move(value));
  }
  *o = std::move(out);
  return text;
}

}  // namespace

std::optional<boost::json::object> MessageDocument(const google::protobuf::Message& m) {
  std::string body;
  if (!google::protobuf::util::MessageToJsonString(m, &body).ok()) return std::nullopt;
  boost::json::object fields = std::move(boost::json::parse(body).as_object());
  if (!Complete(m.GetDescriptor(), &fields)) return std::nullopt;
  return fields;
}

boost::json::object EntryDocument(const v1::Entry& e) {
  boost::json::object doc;
  doc["time"] = FormatTimeMillis(e.time_ms());
  doc["kind"] = KindName(e);
  std::optional<boost::json::object> fields = MessageDocument(e);
  if (!fields) {
    // Text that is not UTF-8, which JSON cannot carry: the entry in protobuf's text form.
    doc["seq"] = e.seq();
    doc["unprintable"] = "a text field is not UTF-8";
    doc["text"] = e.ShortDebugString();
    return doc;
  }
  for (auto& kv : *fields)
    doc.emplace(kv.key(), std::move(kv.value()));
  return doc;
}

std::string Summary(const v1::Entry& e) {
  switch (e.kind_case()) {
    case v1::Entry::kWatch: {
      const v1::WatchEvent& w = e.watch();
      std::string head = std::string(EventName(w.type())) + " ";
      if (w.has_node()) return head + "node/" + w.node().name() + " " + NodeText(w.node());
      if (w.has_cached_image()) {
        const v1::CachedImage& c = w.cached_image();
        std::string s = head + "cachedimage/" + c.name() + " " + c.spec().image() + " generation " +
                        std::to_string(c.generation());
        if (!c.status().phase().empty()) s += ", status " + c.status().phase();
        return s + (c.deleting() ? ", deleting" : "");
      }
      if (w.has_pull_policy()) {
        const v1::PullPolicySpec& s = w.pull_policy().spec();
        return head + "pullpolicy/" + w.pull_policy().name() +
               " maxConcurrentNodes=" + std::to_string(s.max_concurrent_nodes()) +
               " minDelayBetweenPulls=" + FormatDuration(s.min_delay_between_pulls_ms());
      }
      if (w.has_discovery_policy()) return head + "discoverypolicy/" + w.discovery_policy().name();
      if (w.has_pod()) {
        return head + "pod/" + w.pod().name() + " " + PodPhaseText(w.pod()) + " on " +
               w.pod().node();
      }
      return head;
    }
    case v1::Entry::kRelistBegin:
      return std::string("relist of ") + ObjectKindName(e.relist_begin().kind()) + " begins" +
             (e.relist_begin().reason().empty() ? "" : " (" + e.relist_begin().reason() + ")");
    case v1::Entry::kRelistEnd:
      return std::string("relist of ") + ObjectKindName(e.relist_end().kind()) + " ends";
    case v1::Entry::kTimer:
      return "timer of " + KeyString(e.timer().key()) + " fired";
    case v1::Entry::kActionResult: {
      const v1::ActionResult& r = e.action_result();
      std::string s = std::string(ActionName(r.kind())) + " " + r.target() + " (entry " +
                      std::to_string(r.action_seq()) + "): ";
      if (r.ok()) return s + "ok" + (r.http_code() ? " " + std::to_string(r.http_code()) : "");
      return s + "failed " + std::to_string(r.http_code()) + " " + r.reason() +
             (r.message().empty() ? "" : ": " + r.message());
    }
    case v1::Entry::kDiscovery:
      return "discovery of " + e.discovery().policy() + ": " +
             Count(e.discovery().sources_size(), "source");
    case v1::Entry::kStarted:
      return "operator started (" + e.started().config().identity() + ", version " +
             e.started().config().version() + ")";
    case v1::Entry::kReconcile:
      return "reconcile " + KeyString(e.reconcile().key()) + " (trigger entry " +
             std::to_string(e.reconcile().trigger_seq()) + ")";
    case v1::Entry::kPacing: {
      const v1::PacingDecision& d = e.pacing();
      std::string s = std::string(VerdictName(d.verdict())) + " " + d.cached_image() + " under " +
                      Policy(d.policy());
      // A wait on the image's own state alone carries no counts of the policy.
      if (d.limit() > 0) {
        s += ": active " + std::to_string(d.active()) + "/" + std::to_string(d.limit());
      }
      if (d.verdict() == v1::START) s += ", node " + d.node() + ", pod " + d.pod();
      if (!d.in_flight_pod().empty()) {
        s += ", one pull at a time: waits on pod " + d.in_flight_pod();
      }
      if (d.not_before_ms() > 0) s += ", not before " + FormatTimeMillis(d.not_before_ms());
      if (d.consecutive_failures() > 0) {
        s += ", " + Count(d.consecutive_failures(), "consecutive failure");
      }
      return s;
    }
    case v1::Entry::kOutcome: {
      const v1::PullOutcome& o = e.outcome();
      std::string s = (o.outcome() == v1::PULL_SUCCEEDED ? "pulled " : "pull failed ") +
                      o.cached_image() + " on " + o.node() + " (pod " + o.pod() + ") in " +
                      FormatDuration(o.duration_ms());
      if (o.outcome() != v1::PULL_SUCCEEDED) {
        s += ": " + o.reason() + (o.message().empty() ? "" : ": " + o.message());
      }
      return s;
    }
    case v1::Entry::kAction: {
      const v1::ActionIssued& a = e.action();
      if (a.has_create_pod()) {
        const v1::DropPodSpec& p = a.create_pod().pod();
        return "create pod/" + p.name() + " on " + p.node() + " for " + p.cached_image() + " (" +
               p.image() + ")";
      }
      if (a.has_delete_pod()) {
        return "delete pod/" + a.delete_pod().name() + " on " + a.delete_pod().node() + ": " +
               a.delete_pod().reason();
      }
      if (a.has_patch_status()) {
        const v1::CachedImageStatus& s = a.patch_status().status();
        std::string reason = s.conditions_size() > 0 ? s.conditions(0).reason() : "";
        return "write status of cachedimage/" + a.patch_status().cached_image() + ": " + s.phase() +
               " " + std::to_string(s.nodes_ready()) + "/" + std::to_string(s.nodes_targeted()) +
               (reason.empty() ? "" : " (" + reason + ")") +
               (s.next_pull_time_ms() > 0 ? ", next pull " + FormatTimeMillis(s.next_pull_time_ms())
                                          : "");
      }
      if (a.has_emit_event()) {
        return "event " + a.emit_event().type() + " " + a.emit_event().reason() + ": " +
               a.emit_event().message();
      }
      if (a.has_requeue()) {
        return "requeue " + KeyString(a.requeue().key()) + " at " +
               FormatTimeMillis(a.requeue().at_ms());
      }
      return "action";
    }
    default:
      return "unknown entry";
  }
}

std::string TriggerText(const v1::Entry& e) {
  switch (e.kind_case()) {
    case v1::Entry::kWatch: {
      const v1::WatchEvent& w = e.watch();
      if (w.has_pod()) {
        const v1::Pod& p = w.pod();
        if (w.type() == v1::DELETED) return p.name() + " was deleted";
        if (p.phase() == v1::POD_SUCCEEDED || p.phase() == v1::POD_FAILED) {
          return p.name() + " " + PodPhaseName(p.phase());
        }
        if (!p.waiting_reason().empty()) return p.name() + " reported " + p.waiting_reason();
        return p.name() + " was " + (w.type() == v1::ADDED ? "created" : "updated");
      }
      if (w.has_node()) {
        const v1::Node& n = w.node();
        if (w.type() == v1::DELETED) return "node " + n.name() + " was removed";
        if (w.type() == v1::ADDED) return "node " + n.name() + " joined";
        return "node " + n.name() + " changed (" + NodeText(n) + ")";
      }
      if (w.has_cached_image()) {
        const v1::CachedImage& c = w.cached_image();
        if (w.type() == v1::ADDED) return "CachedImage " + c.name() + " was created";
        if (w.type() == v1::DELETED) return "CachedImage " + c.name() + " was deleted";
        return "CachedImage " + c.name() + " changed (generation " +
               std::to_string(c.generation()) + ")";
      }
      if (w.has_pull_policy()) {
        return "PullPolicy " + w.pull_policy().name() + " " +
               (w.type() == v1::ADDED ? "was created" : "changed") + " (maxConcurrentNodes " +
               std::to_string(w.pull_policy().spec().max_concurrent_nodes()) + ")";
      }
      return Summary(e);
    }
    case v1::Entry::kTimer:
      return "the requeue timer of " + KeyString(e.timer().key()) + " fired";
    case v1::Entry::kRelistEnd:
      return std::string("the relist of ") + ObjectKindName(e.relist_end().kind()) +
             " ended (drop had a full view again)";
    case v1::Entry::kActionResult: {
      const v1::ActionResult& r = e.action_result();
      return std::string("the ") + ActionName(r.kind()) + " of " + r.target() + " answered " +
             (r.ok()               ? "ok"
              : r.reason().empty() ? std::to_string(r.http_code())
                                   : r.reason());
    }
    default:
      return Summary(e);
  }
}

Result<std::pair<std::string, std::string>> ParseObject(const std::string& text,
                                                        const std::string& flag,
                                                        const std::string& kinds) {
  size_t slash = text.find('/');
  std::string kind = slash == std::string::npos ? "" : text.substr(0, slash);
  // As kubectl, which takes CachedImage/web and Node/gpu-7.
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string name = slash == std::string::npos ? "" : text.substr(slash + 1);
  static const std::pair<const char*, const char*> kAliases[] = {
      {"cachedimage", "cachedimage"},
      {"cachedimages", "cachedimage"},
      {"ci", "cachedimage"},
      {"pullpolicy", "pullpolicy"},
      {"pullpolicies", "pullpolicy"},
      {"pp", "pullpolicy"},
      {"node", "node"},
      {"nodes", "node"},
      {"no", "node"},
      {"pod", "pod"},
      {"pods", "pod"},
      {"po", "pod"},
      {"discoverypolicy", "discoverypolicy"},
      {"discoverypolicies", "discoverypolicy"}};
  for (const auto& [alias, canonical] : kAliases) {
    if (kind == alias && !name.empty()) return std::make_pair(std::string(canonical), name);
  }
  const std::string example = slash == std::string::npos && !text.empty() ? text : "web";
  return Status::InvalidArgument(flag + " " + text +
                                 ": name an object as KIND/NAME, where KIND is " + kinds +
                                 " (e.g. cachedimage/" + example + ")");
}

}  // namespace drop::replay
