// A simulated cluster around the real core: it answers the loop's actions the way the API server
// and the kubelet would (pods are created, pull for a while, succeed or fail; statuses are
// written; timers fire), with a manual clock. Tests state a scenario and read the journal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/loop.h"
#include "replay/agenda.h"
#include "tests/support/fakes.h"

namespace drop::testing {

// How the simulated kubelet treats one pull.
struct Pull {
  // kGone: the pod fails before its container ran, as when someone deletes it mid-pull.
  enum Mode { kSucceed, kNotFound, kExitFailure, kHang, kAuthFailure, kGone };
  Mode mode = kSucceed;
  int64_t duration_ms = 2000;  // until the pod ends (kSucceed, kExitFailure)
};
using Behaviour = std::function<Pull(const v1::Pod& pod)>;

class World {
 public:
  static constexpr int64_t kStart = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

  explicit World(Loop::Options options = {});

  // The operator starts and lists the (empty or prepared) cluster; reconciling begins.
  void Start();

  void PutNode(const v1::Node& node);
  void RemoveNode(const std::string& name);
  // Creates or updates (a spec change bumps the generation).
  void PutImage(v1::CachedImage image);
  void DeleteImage(const std::string& name);
  void PutPolicy(const v1::PullPolicy& policy);
  void DeletePolicy(const std::string& name);
  void SetBehaviour(Behaviour b) { behaviour_ = std::move(b); }

  // Faults of a real cluster, for the histories a fold must follow through them.
  // The operator restarts: it journals a new start and lists everything again.
  void Restart();
  // The watches break and every kind is listed again, as an informer does after a watch ends
  // past what the server keeps (410 Gone): what went unseen is found. The operator runs on.
  void Relist();
  // The pod goes (or comes back under its name as another pod, with a new uid, pulling again)
  // while no watch reports it: the next relist finds it so.
  void VanishUnseen(const std::string& pod);
  void ReplaceUnseen(const std::string& pod);
  // The next pod create (or delete) reaches the server, but its answer is lost (no response).
  void LoseNextCreateAnswer() { lose_create_answer_ = true; }
  void LoseNextDeleteAnswer() { lose_delete_answer_ = true; }
  // The next pod delete fails on the server (500) and leaves the pod as it was.
  void FailNextDelete() { fail_delete_ = true; }
  // The next status write fails on the server (500) and writes nothing; or it is written, but
  // its answer is lost.
  void FailNextStatusWrite() { fail_status_write_ = true; }
  void LoseNextStatusAnswer() { lose_status_answer_ = true; }
  // While on, the server refuses every pod delete (403, as RBAC without delete would).
  void RefuseDeletes(bool on) { refuse_deletes_ = on; }

  // Delivers everything due up to now + ms, in time order.
  void RunFor(int64_t ms);
  // Runs until pred() holds or `limit_ms` passes; returns whether pred() held.
  bool RunUntil(const std::function<bool()>& pred, int64_t limit_ms);

  int64_t now() const { return clock_.now_ms; }
  const v1::State& state() const { return loop_->state(); }
  const std::vector<v1::Entry>& journal() const { return journal_.entries; }
  MemoryJournal& journal_writer() { return journal_; }
  // The CachedImage as the "API server" holds it (status as drop wrote it).
  const v1::CachedImage& Image(const std::string& name) const { return images_.at(name); }
  const std::map<std::string, v1::CachedImage>& images() const { return images_; }
  const std::map<std::string, v1::Pod>& pods() const { return pods_; }
  const std::vector<v1::EmitEvent>& events() const { return events_; }
  // Every pod ever created, in creation order, with its policy and creation time.
  struct Creation {
    std::string pod, image, node, policy;
    int64_t at;
  };
  const std::vector<Creation>& creations() const { return creations_; }
  // Number of pods whose creation found another pod of the same CachedImage on its node.
  int double_pods() const { return double_pods_; }
  // Whether a pod of `image` (a reference, as a pod's container names it) ever succeeded on
  // `node`: what the kubelet holds, whatever drop believes.
  bool PulledOn(const std::string& node, const std::string& image) const {
    return pulled_.count({node, image}) > 0;
  }

 private:
  void At(int64_t at, std::function<void()> run);
  void Input(v1::Entry e);  // submit and process now
  void Act(const v1::Entry& action);
  void PodEvent(v1::EventType type, const v1::Pod& pod);
  void Progress(const std::string& name, const std::string& uid, int step);

  ManualClock clock_{kStart};
  MemoryJournal journal_;
  RecordingExecutor executor_;
  std::unique_ptr<Loop> loop_;
  Behaviour behaviour_;
  replay::Agenda agenda_;
  uint64_t uid_ = 0;
  uint64_t rv_ = 100;
  std::map<std::string, v1::Node> nodes_;
  std::map<std::string, v1::CachedImage> images_;
  std::map<std::string, v1::PullPolicy> policies_;
  std::map<std::string, v1::Pod> pods_;
  std::map<std::string, Pull> pulls_;
  std::map<std::string, int64_t> timers_;  // key string -> due
  std::vector<v1::EmitEvent> events_;
  std::vector<Creation> creations_;
  int double_pods_ = 0;
  std::set<std::pair<std::string, std::string>> pulled_;  // (node, image)
  bool started_ = false;
  bool lose_create_answer_ = false, lose_delete_answer_ = false, fail_delete_ = false;
  bool refuse_deletes_ = false;
  bool fail_status_write_ = false, lose_status_answer_ = false;
};

// Starts `w` on one node with CachedImage web under PullPolicy broken, whose maxConcurrentNodes 0
// drop cannot use: its error is what the tests of a bad PullPolicy look at.
void StartWithAnInvalidPolicy(World* w);

}  // namespace drop::testing
