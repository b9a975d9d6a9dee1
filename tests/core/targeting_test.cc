// Which nodes a CachedImage targets: selector, taints and tolerations, Ready, schedulable.
#include <gtest/gtest.h>

#include "core/scheduling.h"
#include "tests/support/builders.h"

namespace drop {
namespace {

using testing::ImageBuilder;
using testing::NodeBuilder;

TEST(Targeting, EmptySelectorMatchesEveryNode) {
  v1::CachedImage image = ImageBuilder("web", "web:1");
  EXPECT_EQ(FitNode(NodeBuilder("a").Labels({{"pool", "cpu"}}), image.spec()), Fit::kTargeted);
}

TEST(Targeting, SelectorNeedsEveryLabel) {
  v1::CachedImage image = ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}, {"zone", "a"}});
  EXPECT_EQ(
      FitNode(NodeBuilder("a").Labels({{"pool", "gpu"}, {"zone", "a"}, {"x", "y"}}), image.spec()),
      Fit::kTargeted);
  EXPECT_EQ(FitNode(NodeBuilder("b").Labels({{"pool", "gpu"}}), image.spec()),
            Fit::kSelectorMismatch);
  EXPECT_EQ(FitNode(NodeBuilder("c").Labels({{"pool", "cpu"}, {"zone", "a"}}), image.spec()),
            Fit::kSelectorMismatch);
}

TEST(Targeting, NoScheduleAndNoExecuteTaintsNeedATolerationPreferNoScheduleDoesNot) {
  v1::CachedImage plain = ImageBuilder("web", "web:1");
  EXPECT_EQ(FitNode(NodeBuilder("a").Taint("gpu", "true", "NoSchedule"), plain.spec()),
            Fit::kTaintNotTolerated);
  EXPECT_EQ(FitNode(NodeBuilder("b").Taint("gpu", "true", "NoExecute"), plain.spec()),
            Fit::kTaintNotTolerated);
  EXPECT_EQ(FitNode(NodeBuilder("c").Taint("gpu", "true", "PreferNoSchedule"), plain.spec()),
            Fit::kTargeted);
}

TEST(Targeting, TolerationsMatchLikeTheScheduler) {
  v1::Node node = NodeBuilder("a").Taint("gpu", "true", "NoSchedule");
  auto fit = [&](ImageBuilder b) { return FitNode(node, b.object.spec()); };
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("gpu", "Equal", "true", "NoSchedule")),
            Fit::kTargeted);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("gpu", "", "true", "")), Fit::kTargeted);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("gpu", "Exists", "", "")), Fit::kTargeted);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("", "Exists", "", "")), Fit::kTargeted);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("gpu", "Equal", "false", "")),
            Fit::kTaintNotTolerated);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("gpu", "Exists", "", "NoExecute")),
            Fit::kTaintNotTolerated);
  EXPECT_EQ(fit(ImageBuilder("w", "w:1").Tolerate("other", "Exists", "", "")),
            Fit::kTaintNotTolerated);
}

TEST(Targeting, NotReadyAndUnschedulableNodesAreNotTargeted) {
  v1::CachedImage image = ImageBuilder("web", "web:1");
  EXPECT_EQ(FitNode(NodeBuilder("a").NotReady(), image.spec()), Fit::kNotReady);
  EXPECT_EQ(FitNode(NodeBuilder("b").Unschedulable(), image.spec()), Fit::kUnschedulable);
}

TEST(Targeting, ExplainSaysWhyInWords) {
  v1::CachedImage image = ImageBuilder("web", "web:1").Selector({{"pool", "gpu"}});
  EXPECT_EQ(ExplainFit(NodeBuilder("a"), image.spec()),
            "labels do not match nodeSelector pool=gpu");
  v1::CachedImage any = ImageBuilder("web", "web:1");
  EXPECT_EQ(ExplainFit(NodeBuilder("b").Taint("gpu", "true", "NoSchedule"), any.spec()),
            "taint gpu=true:NoSchedule is not tolerated");
}

}  // namespace
}  // namespace drop
