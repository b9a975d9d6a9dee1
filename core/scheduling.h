// Which nodes a CachedImage targets: the node selector, tolerations against NoSchedule and
// NoExecute taints (as the scheduler's TaintToleration plugin judges them), Ready, schedulable.
#pragma once

#include <string>

#include "core/schema.h"

namespace drop {

enum class Fit {
  kTargeted,
  kSelectorMismatch,
  kTaintNotTolerated,
  kNotReady,
  kUnschedulable,
};

const char* FitName(Fit fit);

bool MatchesSelector(const google::protobuf::RepeatedPtrField<v1::Label>& labels,
                     const google::protobuf::RepeatedPtrField<v1::Label>& selector);

bool Tolerates(const v1::Toleration& toleration, const v1::Taint& taint);

// The first taint with effect NoSchedule or NoExecute that no toleration tolerates, or nullptr.
const v1::Taint* UntoleratedTaint(const v1::Node& node,
                                  const google::protobuf::RepeatedPtrField<v1::Toleration>& tols);

Fit FitNode(const v1::Node& node, const v1::CachedImageSpec& spec);

// Whether FitNode gives the same for nodes a and b under every spec: what it reads of them is
// equal. A node's watch most often changes only the images it lists.
bool SameFit(const v1::Node& a, const v1::Node& b);

// Why a node is not targeted, in words: "labels do not match nodeSelector pool=gpu".
std::string ExplainFit(const v1::Node& node, const v1::CachedImageSpec& spec);

// Why no node of the state is targeted: the nodes spec.nodeSelector picks, counted by why each
// is left out, with one untolerated taint named ("of the 3 nodes with labels pool=gpu, 1 is
// cordoned (unschedulable), 2 have taints ..."), or that the selector picks none.
std::string WhyNoNodeFits(const v1::State& state, const v1::CachedImageSpec& spec);

}  // namespace drop
