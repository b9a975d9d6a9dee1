// The seam between the core's loop and durable storage: the loop appends each batch's entries,
// then commits, and acts on none of them before the commit returns. journal/ implements it on
// RocksDB; tests use an in-memory one.
#pragma once

#include "core/schema.h"
#include "core/status.h"

namespace drop {

class JournalWriter {
 public:
  virtual ~JournalWriter() = default;

  // Adds an entry to the batch in hand; it is not durable until Commit returns OK.
  virtual Status Append(const v1::Entry& entry) = 0;

  // Makes every appended entry durable (one synced write for the batch). `state` is what the
  // journal folds to after them, for the journal to snapshot when its policy says so.
  virtual Status Commit(const v1::State& state) = 0;
};

}  // namespace drop
