// Journal entries in words: a short kind name, the objects an entry is about, and a one-line
// summary ("pod/drop-web-3f2a Succeeded on node-3"). `log`, `explain` and `verify` print these.
#pragma once

#include <google/protobuf/message.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.h"
#include "core/status.h"
#include "core/words.h"  // Count and Listed, which the messages here use

namespace drop::replay {

// "watch", "relist-begin", "relist-end", "timer", "result", "discovery", "started", "reconcile",
// "pacing", "outcome", "create-pod", "delete-pod", "patch-status", "event", "requeue".
std::string KindName(const v1::Entry& e);
// Whether `filter` selects the entry: a kind name above, or "input", "decision", "action".
bool KindMatches(const v1::Entry& e, std::string_view filter);
// Every kind name --kind accepts, for the error message.
const std::vector<std::string>& KindFilters();

// The objects the entry is about, as kind/name: "cachedimage/web", "pullpolicy/gentle",
// "node/gpu-7", "pod/drop-web-3f2a"; the first is the main one. A pacing decision is about the pod
// it waits on too, and a status write about the nodes its status lists.
std::vector<std::string> ObjectsOf(const v1::Entry& e);

std::string Summary(const v1::Entry& e);

// The entry as JSON for other tools (export, log -o json, verify -o json): "time" (RFC 3339) and
// "kind" first, then its fields by protobuf's JSON names, every field shown (an active count of 0
// is a fact too), and 64-bit integers as numbers so that jq compares them (sequence numbers,
// times and generations stay far below 2^53). A value a double may round (beyond 2^53 - 1: a
// sentinel near int64's limit) and hashes (fixed64) stay strings, as protobuf's JSON mapping
// writes every 64-bit integer.
boost::json::object EntryDocument(const v1::Entry& e);

// `m` as protobuf's JSON mapping writes it, as EntryDocument gives its fields: every field shown,
// 64-bit integers as numbers where a double holds them, and text (declared bytes, which the
// mapping writes in base64) as itself. nullopt when a text is not UTF-8, which JSON cannot carry.
std::optional<boost::json::object> MessageDocument(const google::protobuf::Message& m);

// "Pending", "Succeeded", ... with the waiting reason when there is one; "Creating" for a pod
// drop created that the watch has not shown yet.
std::string PodPhaseText(const v1::Pod& pod);
const char* PodPhaseName(v1::PodPhase phase);

// "pod drop-web-c3 Succeeded", "node gpu-7 became Ready", "the requeue timer of pullpolicy/gentle
// fired": why a reconcile ran, in words, from the input that triggered it.
std::string TriggerText(const v1::Entry& input);

// What the user names an object by: "cachedimage/web" -> {"cachedimage", "web"}. Accepts plurals
// ("cachedimages/web"), kubectl's short names (ci, pp, no, po) and any case (CachedImage/web).
// `kinds` is what the error names as the kinds the caller takes.
Result<std::pair<std::string, std::string>> ParseObject(
    const std::string& text, const std::string& flag,
    const std::string& kinds = "cachedimage, pullpolicy, node or pod");

}  // namespace drop::replay
