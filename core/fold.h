// The fold: State' = apply(State, Entry). Deterministic and free of I/O, so the operator's state
// and the replay tool's are the same function of the same journal.
#pragma once

#include "core/schema.h"

namespace drop {

// Folds one entry (input or decision) into the state, in place. Entries must come in sequence
// order; an entry that names an object the state does not hold changes nothing it should not.
void Apply(const v1::Entry& entry, v1::State* state);

// An empty state, stamped with the schema version.
v1::State InitialState();

}  // namespace drop
