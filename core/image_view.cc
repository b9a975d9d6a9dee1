#include "core/image_view.h"

#include "core/hash.h"
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
  match_hash_ = record.image_key().empty() ? 0 : Fnv1a64(record.image_key());
  // Under Always the user asks for a fresh pull of a moving tag: a listed image proves nothing.
  present_counts_ = effective_policy().image_pull_policy() != "Always";
  auto [first, last] = PodsOf(state, object.name());
  for (int i = first; i < last; ++i)
    pods_.push_back(&state.pods(i));
}

const v1::PullPolicySpec& ImageView::effective_policy() const {
  return policy_ != nullptr ? *policy_ : DefaultPolicySpec();
}

}  // namespace drop
