// One turn of the event-sourced core (DESIGN.md section 4, steps 3-5): fold an input, run the
// reconciler for the keys it touched, fold each decision as it is made. The operator's loop and
// `drop-replay verify` both call it, so a recorded decision can be recomputed exactly.
#pragma once

#include <vector>

#include "core/reconcile.h"
#include "core/schema.h"

namespace drop {

class Index;

bool IsDecision(const v1::Entry& entry);

// Folds `input` (stamped with its seq and time) into *state and returns the decisions that
// follow from it, stamped with the sequence numbers after the input's and the input's time.
// Each decision carries its reconcileID: the seq of the ReconcileStarted entry that opens it.
// A reconcile that decides nothing leaves no entry. With an Index of *state, folds through it and
// decides the same at a cost that follows the change, not the cluster's size. The decisions come
// in `form`: the journal's, for a caller that only compares or keeps them.
std::vector<v1::Entry> Step(const v1::Entry& input, v1::State* state, Index* index = nullptr,
                            DecisionForm form = DecisionForm::kFull);

// The form in which the journal keeps an entry: the same, except that a status write keeps the
// digest of its cachedNodes list instead of the list (see CachedImageStatus.cached_nodes_digest).
// Returns `entry` itself, or `scratch` filled with the journal form. Both fold to the same state.
const v1::Entry& JournalForm(const v1::Entry& entry, v1::Entry* scratch);
// The same, in place: for a caller that has no more use for the list.
void ToJournalForm(v1::Entry* entry);

// The keys an input makes the reconciler look at (before it is folded), in the order they run:
// CachedImages by name, then PullPolicies by name. With the state's Index, finds the pods it
// reads without a search.
std::vector<v1::Key> TouchedKeys(const v1::State& state, const v1::Entry& input,
                                 const Index* index = nullptr);

}  // namespace drop
