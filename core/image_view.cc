#include "core/image_view.h"

#include <algorithm>

#include "core/hash.h"
#include "core/state.h"
#include "core/validation.h"

namespace drop {

uint64_t MatchHash(std::string_view image_key) {
  return image_key.empty() ? 0 : Fnv1a64(image_key);
}

bool Lists(const v1::Node& node, uint64_t match_hash) {
  const auto& hashes = node.image_hashes();
  return match_hash != 0 && std::binary_search(hashes.begin(), hashes.end(), match_hash);
}

ImageView::ImageView(const v1::State& state, const v1::ImageRecord& record,
                     const std::string* image_error)
    : state_(&state), record_(&record), image_error_(image_error) {
  const v1::CachedImage& object = record.object();
  policy_ = FindPolicySpec(state, object.spec().pull_policy_ref());
  match_hash_ = MatchHash(record);
  // Under Always the user asks for a fresh pull of a moving tag: a listed image proves nothing.
  present_counts_ = effective_policy().image_pull_policy() != "Always";
}

std::span<const v1::PodRecord* const> ImageView::pods() const {
  if (!pods_) {
    const List<v1::PodRecord>& pods = PodsOf(*state_, name());
    pods_.emplace(pods.data(), static_cast<size_t>(pods.size()));
  }
  return *pods_;
}

NodeFacts ImageView::FactsOf(const v1::Node& node) const {
  std::span<const v1::PodRecord* const> all = pods();
  auto pod = std::lower_bound(
      all.begin(), all.end(), node.name(),
      [](const v1::PodRecord* r, const std::string& n) { return r->pod().node() < n; });
  return FactsOf(node, pod != all.end() && (*pod)->pod().node() == node.name() ? *pod : nullptr);
}

NodeFacts ImageView::FactsOf(const v1::Node& node, const v1::PodRecord* pod) const {
  NodeFacts facts;
  facts.node = &node;
  facts.pulled = Contains(record_->pulled_nodes(), node.name());
  facts.failure = Find(record_->failures(), node.name());
  facts.pod = pod;
  Complete(&facts);
  return facts;
}

void ImageView::Complete(NodeFacts* facts) const {
  const v1::Node& node = *facts->node;
  facts->fit = FitNode(node, record_->object().spec());
  facts->present = Lists(node, match_hash_);
  facts->cached =
      facts->fit == Fit::kTargeted && (facts->pulled || (facts->present && present_counts_));
}

const std::string& ImageView::spec_error() const {
  if (spec_error_) return *spec_error_;
  const v1::CachedImage& object = record_->object();
  spec_error_ = image_error_ != nullptr ? *image_error_ : ValidateCachedImage(object);
  if (spec_error_->empty() && policy_ != nullptr) {
    const std::string& name = object.spec().pull_policy_ref();
    spec_error_ = PullPolicyError(name, *policy_, Find(state_->policies(), name));
  }
  return *spec_error_;
}

const v1::PullPolicySpec& ImageView::effective_policy() const {
  return policy_ != nullptr ? *policy_ : DefaultPolicySpec();
}

}  // namespace drop
