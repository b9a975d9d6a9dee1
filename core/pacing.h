// The pacing engine (DESIGN.md section 2): when a PullPolicy lets a new drop pod start, and which
// (CachedImage, node) it goes to. Every evaluation that blocks or starts a pull is a
// PacingDecision carrying its verdict and the inputs that decided it; a wait that repeats the last
// one recorded for the CachedImage, inputs and all, is not recorded twice. Pure functions of the
// state.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "core/schema.h"

namespace drop {

class Index;

// Container waiting reasons of a pull that cannot succeed by waiting. Pods in them do not count
// as active, so a broken image does not hold a policy's budget.
bool IsImagePullError(std::string_view reason);

// Rule 1's notion of an active pod: issued or Pending/Running, and not waiting on a pull error.
bool IsActive(const v1::PodRecord& pod);
// The pod's own part of that: not yet seen or Pending/Running, and not waiting on a pull error.
bool IsPulling(const v1::Pod& pod);

// Active drop pods whose pulls count against the policy (the default policy is "").
int CountActive(const v1::State& state, std::string_view policy);

// Rule 3: min(initialDelay * factor^(failures-1), maxDelay); 0 when there are no failures.
int64_t BackoffDelay(const v1::Backoff& backoff, int32_t failures);

// Rule 3 for one CachedImage: the earliest time it may start a pull (<= now: it may).
int64_t BackoffUntil(const v1::Backoff& backoff, const v1::ImageRecord& image);

// When a wait on the policy's least delay between creations (rule 2) ends; 0 for another verdict.
inline int64_t LeastDelayEnd(const v1::PacingDecision& wait) {
  return wait.verdict() == v1::WAIT_MIN_DELAY ? wait.not_before_ms() : 0;
}

// When the policy last created a drop pod (0 = never).
int64_t LastCreation(const v1::State& state, std::string_view policy);

// The reason of the Warning Event on a PullPolicy whose spec drop cannot use.
inline constexpr char kInvalidSpec[] = "InvalidSpec";

// One pacing pass for a policy at `now`: starts as many pulls as the rules allow, and records
// why the rest wait. Returns decision entries (PacingDecision, ActionIssued: CreatePod,
// EmitEvent, RequeueAt), unstamped. A policy whose spec is invalid starts nothing, and is told
// of in a Warning Event on it (kInvalidSpec) once a generation. With the state's Index, the same
// decisions without walking every pod and node.
//
// Beside DESIGN.md's three rules, a fourth keeps a broken image from reaching every node: while a
// CachedImage's pulls fail (it has consecutive failures, or a pull of it waits on an image error,
// which frees its slot under rule 1), it pulls on one node at a time, and the next waits for that
// pull's outcome (a WaitBackoff naming the pod in flight). One success restores the full pace.
std::vector<v1::Entry> PacePolicy(const v1::State& state, std::string_view policy, int64_t now,
                                  const Index* index = nullptr);

const char* VerdictName(v1::Verdict verdict);

}  // namespace drop
