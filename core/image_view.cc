#include "core/image_view.h"

#include <algorithm>

#include "core/image_ref.h"
#include "core/state.h"
#include "core/validation.h"

namespace drop {

ImageView::ImageView(const v1::State& state, const v1::ImageRecord& record)
    : state_(&state), record_(&record) {
  const v1::CachedImage& object = record.object();
  policy_ = FindPolicySpec(state, object.spec().pull_policy_ref());
  spec_error_ = ValidateCachedImage(object);
  if (spec_error_.empty() && policy_ != nullptr) {
    const v1::PolicyRecord* p = Find(state.policies(), object.spec().pull_policy_ref());
    if (p != nullptr && !p->object().spec_error().empty()) {
      spec_error_ = p->object().spec_error();
    } else {
      spec_error_ = ValidatePullPolicy(object.spec().pull_policy_ref(), *policy_);
    }
  }
  match_hash_ = ImageMatchHash(object.spec().image());
  // Under Always the user asks for a fresh pull of a moving tag: a listed image proves nothing.
  present_counts_ = effective_policy().image_pull_policy() != "Always";
  for (const v1::PodRecord& pod : state.pods()) {
    if (pod.pod().cached_image() == object.name()) pods_.push_back(&pod);
  }
  std::stable_sort(pods_.begin(), pods_.end(), [](const v1::PodRecord* a, const v1::PodRecord* b) {
    return a->pod().node() < b->pod().node();
  });
}

const v1::PullPolicySpec& ImageView::effective_policy() const {
  return policy_ != nullptr ? *policy_ : DefaultPolicySpec();
}

}  // namespace drop
