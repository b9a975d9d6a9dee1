// The log lines a committed batch of journal entries makes: every decision with its controller,
// its reconcileID (the sequence number drop-replay takes) and its object; actions at info,
// pacing and reconcile bookkeeping at debug; failed API writes at warn.
#pragma once

#include <span>

#include "core/schema.h"
#include "k8s/log.h"

namespace drop::k8s {

void LogBatch(Logger& log, std::span<const v1::Entry> batch);

}  // namespace drop::k8s
