// The drop pod and status JSON the operator writes.
#include "k8s/manifests.h"

#include <gtest/gtest.h>

#include "core/drop_pod.h"
#include "tests/support/builders.h"

namespace drop::k8s {
namespace {

v1::DropPodSpec Spec() {
  v1::OperatorConfig config;
  config.set_namespace_("drop-system");
  config.set_init_image("registry.local/drop/operator:1");
  v1::CachedImage image = testing::ImageBuilder("web", "registry.example.com/web:1")
                              .Tolerate("gpu", "Exists", "", "NoSchedule")
                              .Secret("regcred");
  v1::PullPolicySpec policy;
  policy.set_image_pull_policy("IfNotPresent");
  return MakeDropPod(config, image, policy, "gpu-7");
}

TEST(PodManifest, PinsTheNodeByAffinityAndRunsTheNoopFromAnEmptyDir) {
  boost::json::object pod = PodManifest(Spec());
  const auto& spec = pod.at("spec").as_object();
  EXPECT_EQ(spec.at("restartPolicy"), "Never");
  EXPECT_EQ(spec.at("automountServiceAccountToken"), false);
  const auto& term = spec.at("affinity")
                         .at("nodeAffinity")
                         .at("requiredDuringSchedulingIgnoredDuringExecution")
                         .at("nodeSelectorTerms")
                         .at(0)
                         .at("matchFields")
                         .at(0);
  EXPECT_EQ(term.at("key"), "metadata.name");
  EXPECT_EQ(term.at("values").at(0), "gpu-7");
  EXPECT_FALSE(spec.contains("nodeName")) << "the scheduler must still check taints and resources";
  const auto& init = spec.at("initContainers").at(0);
  EXPECT_EQ(init.at("image"), "registry.local/drop/operator:1");
  EXPECT_EQ(init.at("command"), (boost::json::array{"/drop-noop", "install", "/drop/noop"}));
  const auto& main = spec.at("containers").at(0);
  EXPECT_EQ(main.at("name"), "image");
  EXPECT_EQ(main.at("image"), "registry.example.com/web:1");
  EXPECT_EQ(main.at("command"), (boost::json::array{"/drop/noop"}));
  EXPECT_EQ(main.at("securityContext").at("readOnlyRootFilesystem"), true);
  EXPECT_EQ(main.at("securityContext").at("capabilities").at("drop").at(0), "ALL");
  EXPECT_EQ(spec.at("securityContext").at("runAsNonRoot"), true);
  EXPECT_EQ(spec.at("tolerations").at(0).at("key"), "gpu");
  EXPECT_EQ(spec.at("imagePullSecrets").at(0).at("name"), "regcred");
}

TEST(PodManifest, CarriesDropsLabelsAndAnOwnerReference) {
  boost::json::object pod = PodManifest(Spec());
  const auto& meta = pod.at("metadata").as_object();
  EXPECT_EQ(meta.at("namespace"), "drop-system");
  EXPECT_EQ(meta.at("labels").at("app.kubernetes.io/managed-by"), "drop");
  EXPECT_EQ(meta.at("labels").at("drop.io/cachedimage"), "web");
  EXPECT_EQ(meta.at("labels").at("drop.io/node"), "gpu-7");
  EXPECT_EQ(meta.at("annotations").at("drop.io/generation"), "1");
  EXPECT_EQ(meta.at("ownerReferences").at(0).at("kind"), "CachedImage");
  EXPECT_EQ(meta.at("ownerReferences").at(0).at("uid"), "uid-web");
}

TEST(StatusManifest, NamesTheFieldsAsTheGuideDoes) {
  v1::CachedImageStatus s;
  s.set_observed_generation(3);
  s.set_phase("Pulling");
  s.set_nodes_targeted(40);
  s.set_nodes_ready(38);
  s.add_cached_nodes("node-a");
  s.set_next_pull_time_ms(1'795'603'366'000);
  v1::Condition* c = s.add_conditions();
  c->set_type("Ready");
  c->set_status("False");
  c->set_reason("Pulling");
  c->set_message("38 of 40");
  c->set_last_transition_time_ms(1'795'603'366'000);
  boost::json::object o = StatusManifest(s);
  EXPECT_EQ(o.at("phase"), "Pulling");
  EXPECT_EQ(o.at("nodesTargeted"), 40);
  EXPECT_EQ(o.at("nodesReady"), 38);
  EXPECT_EQ(o.at("cachedNodes").at(0), "node-a");
  EXPECT_EQ(o.at("consecutiveFailures"), 0);
  EXPECT_EQ(o.at("nextPullTime"), "2026-11-25T10:42:46Z");
  EXPECT_EQ(o.at("conditions").at(0).at("lastTransitionTime"), "2026-11-25T10:42:46Z");
}

}  // namespace
}  // namespace drop::k8s
