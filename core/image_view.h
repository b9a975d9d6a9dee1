// How one CachedImage stands on every node: targeted or why not, cached, which of its drop pods
// sits there. Reconcile, pacing and the replay tool's explain all read the cluster through this.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/scheduling.h"
#include "core/schema.h"

namespace drop {

struct NodeFacts {
  const v1::Node* node = nullptr;
  Fit fit = Fit::kTargeted;
  bool pulled = false;   // a drop pod succeeded here for the current image
  bool present = false;  // node.status.images lists the image
  bool cached = false;   // targeted, and pulled or (present and the policy is IfNotPresent)
  const v1::PodRecord* pod = nullptr;       // this CachedImage's drop pod on the node
  const v1::FailedNode* failure = nullptr;  // latest failure on the node, this image
  bool candidate() const { return fit == Fit::kTargeted && !cached && pod == nullptr; }
};

// What node.status.images is searched for, by hash, for the image a CachedImage resolved to (its
// ImageRecord.image_key); 0, which no node lists, before it resolves.
uint64_t MatchHash(std::string_view image_key);
inline uint64_t MatchHash(const v1::ImageRecord& record) {
  return MatchHash(record.image_key());
}
// Whether `node` lists the image of that hash.
bool Lists(const v1::Node& node, uint64_t match_hash);

class ImageView {
 public:
  // `image_error`, when the caller has it, is ValidateCachedImage of the record's object.
  ImageView(const v1::State& state, const v1::ImageRecord& record,
            const std::string* image_error = nullptr);

  const v1::ImageRecord& record() const { return *record_; }
  const std::string& name() const { return record_->object().name(); }
  const std::string& policy_name() const { return record_->object().spec().pull_policy_ref(); }
  // nullptr when the named PullPolicy does not exist.
  const v1::PullPolicySpec* policy() const { return policy_; }
  // The policy that governs timeouts and clean-up: the named one, else the default.
  const v1::PullPolicySpec& effective_policy() const;
  // Why the spec (or its policy) cannot be acted on; empty when it can. Validated when first
  // asked: a view that only reads the nodes does not pay for it.
  const std::string& spec_error() const;
  // This CachedImage's drop pods, sorted by node (then name): its group in State.pod_groups,
  // found when first asked (a reconcile through the index never asks).
  std::span<const v1::PodRecord* const> pods() const;

  // Calls f(const NodeFacts&) for every node in name order until f returns false.
  template <typename F>
  void ForEachNode(F&& f) const;
  // The facts of one node, found by binary search: for a caller that looks at a few nodes.
  NodeFacts FactsOf(const v1::Node& node) const;
  // The same, for a caller that has found the node's first drop pod of this CachedImage itself
  // (nullptr: there is none).
  NodeFacts FactsOf(const v1::Node& node, const v1::PodRecord* pod) const;

 private:
  // Fills in what follows from the node and the lookups ForEachNode or FactsOf made.
  void Complete(NodeFacts* facts) const;

  const v1::State* state_;
  const v1::ImageRecord* record_;
  const v1::PullPolicySpec* policy_;
  const std::string* image_error_;
  mutable std::optional<std::string> spec_error_;
  uint64_t match_hash_ = 0;
  bool present_counts_ = true;
  mutable std::optional<std::span<const v1::PodRecord* const>> pods_;
};

// Moves *i past the names (name(*i), ...; sorted, *i < end) that sort before `node`; true when
// the one it stops at is `node`.
template <typename Name>
bool SkipToNode(const std::string& node, int* i, int end, Name name) {
  for (; *i < end; ++*i) {
    int c = name(*i).compare(node);
    if (c >= 0) return c == 0;
  }
  return false;
}

template <typename F>
void ImageView::ForEachNode(F&& f) const {
  const auto& pulled = record_->pulled_nodes();
  const auto& failures = record_->failures();
  const std::span<const v1::PodRecord* const> pods = this->pods();
  int p = 0, q = 0, k = 0;
  // Nodes, pulled_nodes, failures and pods are all sorted by node name: one merge pass.
  for (const v1::NodeRecord& nr : state_->nodes()) {
    const v1::Node& node = nr.node();
    NodeFacts facts;
    facts.node = &node;
    // One three-way comparison per step: a census compares names 5,000 times per list.
    facts.pulled = SkipToNode(node.name(), &p, pulled.size(),
                              [&](int i) -> const std::string& { return pulled[i]; });
    if (SkipToNode(node.name(), &q, failures.size(),
                   [&](int i) -> const std::string& { return failures[i].node(); })) {
      facts.failure = &failures[q];
    }
    if (SkipToNode(node.name(), &k, static_cast<int>(pods.size()),
                   [&](int i) -> const std::string& { return pods[i]->pod().node(); })) {
      facts.pod = pods[k];
    }
    Complete(&facts);
    if (!f(facts)) return;
  }
}

}  // namespace drop
