// The reconciler for one CachedImage: what drop concludes about its pulls, which of its pods go,
// and the status it writes. Pure functions of (state, name, now); the step runs them in order,
// folding each one's decisions before the next reads the state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/hash.h"
#include "core/image_view.h"
#include "core/schema.h"

namespace drop {

class Index;

// Most failed nodes listed in status.failedNodes (the latest failures); the journal keeps all.
constexpr int kMaxFailedNodesInStatus = 10;

// A pod made for another image than the CachedImage now names (spec.image changed).
bool Superseded(const v1::ImageRecord& image, const v1::PodRecord& pod);

// Decides the outcome of every pull that ended (the pod Succeeded or Failed), can no longer
// succeed (kubelet reported ImagePullBackOff twice), timed out, or could not be created:
// PullOutcome entries, with the deletes and Events that go with them.
std::vector<v1::Entry> AccountPulls(const v1::State& state, std::string_view image, int64_t now,
                                    const Index* index = nullptr);

// The form of the decisions a reconcile returns. The operator acts on the full one, in which a
// status write lists its cachedNodes. The journal keeps the list's digest instead (JournalForm in
// core/step.h); whoever only compares or keeps decisions (verify) asks for that form and spares
// the list of, say, 5,000 names on every write. Both fold to the same state.
enum class DecisionForm { kFull, kJournal };

// Deletes pods that are done with (TTL expired, superseded by a new image, orphaned, in the way
// of a retry), writes status when it changed, emits Ready and Degraded Events, requeues itself
// for the next deadline. With the state's Index, the same decisions without walking every node.
std::vector<v1::Entry> ReconcileImage(const v1::State& state, std::string_view image, int64_t now,
                                      const Index* index = nullptr,
                                      DecisionForm form = DecisionForm::kFull);

// The status the CachedImage should have at `now`: what drop writes, and what `drop-replay state`
// shows. lastTransitionTime carries over from the status drop last wrote. nextPullTime, while
// nodes still lack the image, is its backoff's end, or the end of the policy's least delay between
// creations when the last pacing pass held it there (the step reconciles an image again after a
// pass records such a wait for it).
v1::CachedImageStatus DesiredStatus(const v1::State& state, const ImageView& view, int64_t now);

// The status drop last wrote, or else the one last read from the API server; compact (see
// CompactStatus).
const v1::CachedImageStatus& CurrentStatus(const v1::ImageRecord& image);

// The status as the journal and the State keep it: cached_nodes replaced by its digest.
void CompactStatus(v1::CachedImageStatus* status);

// FNV-1a 64 of the node names, each followed by a newline: CachedImageStatus.cached_nodes_digest.
// A status read back from the API server is compacted with it, so it compares equal to drop's.
uint64_t CachedNodesDigest(const google::protobuf::RepeatedPtrField<std::string>& nodes);
// The same, a name at a time: start from kEmptyCachedNodesDigest.
inline constexpr uint64_t kEmptyCachedNodesDigest = Fnv1a64("");
inline uint64_t CachedNodesDigestStep(uint64_t digest, std::string_view node) {
  return Fnv1a64("\n", Fnv1a64(node, digest));
}

}  // namespace drop
