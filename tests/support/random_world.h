// Random cluster histories for property tests and benchmarks: nodes come and go and flap, images
// and policies are created, changed (sometimes into nonsense) and deleted, pulls succeed, fail,
// hang, loop in ImagePullBackOff or lose their pod (evicted); with `faults`, the operator also
// restarts, watches break and relist, pods go or are replaced while no watch tells, status
// writes fail, and creates, deletes and status writes lose their answers. Seeded, so a failing
// seed replays exactly.
#pragma once

#include <cstdint>
#include <iterator>
#include <random>
#include <string>

#include "tests/support/builders.h"
#include "tests/support/world.h"

namespace drop::testing {

struct RandomWorld {
  explicit RandomWorld(uint64_t seed, int nodes = 12, int images = 4, int policies = 2)
      : rng(seed), node_count(nodes), image_count(images), policy_count(policies) {
    world.SetBehaviour([this](const v1::Pod&) {
      int roll = Pick(100);
      if (roll < 60) return Pull{Pull::kSucceed, 200 + Pick(20'000)};
      if (roll < 72) return Pull{Pull::kNotFound, 0};
      if (roll < 76) return Pull{Pull::kAuthFailure, 0};
      if (roll < 85) return Pull{Pull::kExitFailure, 100 + Pick(5'000)};
      if (roll < 89) return Pull{Pull::kGone, 100 + Pick(5'000)};
      return Pull{Pull::kHang, 0};
    });
    for (int i = 0; i < policy_count; ++i)
      world.PutPolicy(Policy(i));
    for (int i = 0; i < node_count; ++i)
      world.PutNode(Node(i));
    for (int i = 0; i < image_count; ++i)
      world.PutImage(Image(i));
    world.Start();
  }

  int Pick(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

  v1::Node Node(int i) {
    NodeBuilder b("node-" + std::to_string(i));
    b.Labels({{"pool", Pick(3) == 0 ? "gpu" : "cpu"}});
    if (Pick(6) == 0) b.Taint("gpu", "true", "NoSchedule");
    if (Pick(10) == 0) b.NotReady();
    if (Pick(15) == 0) b.Unschedulable();
    if (Pick(4) == 0) b.Image("img-" + std::to_string(Pick(image_count)) + ":1");
    if (Pick(20) == 0) b.Uid("uid-" + std::to_string(rng()));
    return b;
  }

  v1::PullPolicy Policy(int i) {
    PolicyBuilder b("policy-" + std::to_string(i), 1 + Pick(4), Pick(3) == 0 ? 0 : Pick(5) * 1000);
    b.Timeout(5'000 + Pick(60'000)).Ttl(Pick(30'000));
    b.Backoff(Pick(4) * 1000, 10'000 + Pick(50'000), 1 + Pick(3), 1 + Pick(4));
    if (Pick(5) == 0) b.Always();
    v1::PullPolicy p = b;
    if (Pick(25) == 0) p.mutable_spec()->set_max_concurrent_nodes(-1);  // nonsense, must not crash
    return p;
  }

  v1::CachedImage Image(int i) {
    ImageBuilder b("img-" + std::to_string(i),
                   "img-" + std::to_string(i) + ":" + std::to_string(1 + Pick(2)));
    int policy = Pick(policy_count + 2);  // sometimes the default, sometimes a missing one
    if (policy < policy_count) b.Policy("policy-" + std::to_string(policy));
    if (policy == policy_count + 1) b.Policy("missing");
    if (Pick(3) == 0) b.Selector({{"pool", "gpu"}});
    if (Pick(3) == 0) b.Tolerate("gpu", "Exists", "", "NoSchedule");
    v1::CachedImage image = b;
    if (Pick(30) == 0) image.mutable_spec()->set_image("Not A Reference");
    return image;
  }

  // One of the faults, at random: a pod goes or is replaced unseen, a create's, a delete's or a
  // status write's answer is lost, a status write fails, the watches break and are listed
  // again, or the operator restarts (and relists); a relist finds what went unseen.
  void Fault() {
    const auto& pods = world.pods();
    switch (Pick(12)) {
      case 0:
      case 1:
        if (!pods.empty()) {
          std::string pod = std::next(pods.begin(), Pick(static_cast<int>(pods.size())))->first;
          if (Pick(2) == 0) {
            world.VanishUnseen(pod);
          } else {
            world.ReplaceUnseen(pod);
          }
          ++faults_injected;
        }
        break;
      case 2:
        world.LoseNextCreateAnswer();
        ++faults_injected;
        break;
      case 4:
        world.LoseNextDeleteAnswer();
        ++faults_injected;
        break;
      case 3:
        world.Restart();
        ++faults_injected;
        break;
      case 5:
        world.Relist();
        ++faults_injected;
        break;
      case 6:
        world.FailNextStatusWrite();
        ++faults_injected;
        break;
      case 7:
        world.LoseNextStatusAnswer();
        ++faults_injected;
        break;
      default:
        break;
    }
  }

  // One random change to the cluster (and a fault, with `faults`), then time passes.
  void Step() {
    if (faults) Fault();
    switch (Pick(10)) {
      case 0:
        world.PutNode(Node(Pick(node_count)));
        break;
      case 1:
        world.RemoveNode("node-" + std::to_string(Pick(node_count)));
        break;
      case 2:
        world.PutImage(Image(Pick(image_count)));
        break;
      case 3:
        if (Pick(4) == 0) world.DeleteImage("img-" + std::to_string(Pick(image_count)));
        break;
      case 4:
        world.PutPolicy(Policy(Pick(policy_count)));
        break;
      case 5:
        if (Pick(6) == 0) world.DeletePolicy("policy-" + std::to_string(Pick(policy_count)));
        break;
      default:
        break;
    }
    world.RunFor(Pick(15'000));
  }

  std::mt19937_64 rng;
  int node_count, image_count, policy_count;
  bool faults = false;
  int faults_injected = 0;
  World world;
};

}  // namespace drop::testing
