#include "tests/support/world.h"

#include <google/protobuf/util/message_differencer.h>

#include "core/drop_pod.h"
#include "core/executor.h"
#include "core/fold.h"
#include "core/state.h"
#include "tests/support/builders.h"

namespace drop::testing {
namespace {

// The CachedImage as drop's watch projects it: without the status node lists.
v1::CachedImage Projected(v1::CachedImage image) {
  image.mutable_status()->clear_cached_nodes();
  image.mutable_status()->clear_failed_nodes();
  return image;
}

v1::Entry Listed(const v1::CachedImage& o) {
  return Watch(v1::LISTED, Projected(o));
}
template <typename T>
v1::Entry Listed(const T& o) {
  return Watch(v1::LISTED, o);
}

// When *lose is set (then cleared): the request took effect, but its answer never came.
void LoseOnce(bool* lose, v1::Entry* result) {
  if (!*lose) return;
  *lose = false;
  v1::ActionResult* r = result->mutable_action_result();
  r->set_ok(false);
  r->set_http_code(0);
  r->clear_uid();
  r->set_message("context deadline exceeded");
}

}  // namespace

World::World(Loop::Options options)
    : loop_(std::make_unique<Loop>(InitialState(), &journal_, &executor_, &clock_, options)) {
  behaviour_ = [](const v1::Pod&) { return Pull{}; };
}

void World::At(int64_t at, std::function<void()> run) {
  agenda_.At(at, std::move(run));
}

void World::Input(v1::Entry e) {
  loop_->Submit(std::move(e));
  Result<size_t> n = loop_->RunOnce(std::chrono::milliseconds(0));
  if (!n.ok()) return;  // a failing journal: the tests that inject it look at the journal
  std::vector<v1::Entry> actions;
  actions.swap(executor_.actions);
  for (const v1::Entry& a : actions)
    Act(a);
}

void World::Start() {
  started_ = true;
  Restart();
}

void World::Restart() {
  Input(Started());
  Relist();
}

void World::Relist() {
  auto relist = [&](v1::ObjectKind kind, auto& objects) {
    Input(RelistBegin(kind));
    for (const auto& [name, object] : objects)
      Input(Listed(object));
    Input(RelistEnd(kind));
  };
  relist(v1::KIND_NODE, nodes_);
  relist(v1::KIND_PULL_POLICY, policies_);
  relist(v1::KIND_CACHED_IMAGE, images_);
  relist(v1::KIND_POD, pods_);
}

void World::PutNode(const v1::Node& node) {
  bool existed = nodes_.count(node.name()) > 0;
  nodes_[node.name()] = node;
  if (started_) Input(Watch(existed ? v1::MODIFIED : v1::ADDED, node));
}

void World::RemoveNode(const std::string& name) {
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  v1::Node node = it->second;
  nodes_.erase(it);
  if (started_) Input(Watch(v1::DELETED, node));
}

void World::PutImage(v1::CachedImage image) {
  auto it = images_.find(image.name());
  bool existed = it != images_.end();
  if (existed) {
    bool same_spec =
        google::protobuf::util::MessageDifferencer::Equals(it->second.spec(), image.spec());
    image.set_generation(it->second.generation() + (same_spec ? 0 : 1));
    image.set_uid(it->second.uid());
    *image.mutable_status() = it->second.status();
  }
  image.set_resource_version(std::to_string(++rv_));
  images_[image.name()] = image;
  if (started_) Input(Watch(existed ? v1::MODIFIED : v1::ADDED, Projected(image)));
}

void World::DeleteImage(const std::string& name) {
  auto it = images_.find(name);
  if (it == images_.end()) return;
  v1::CachedImage image = it->second;
  images_.erase(it);
  if (started_) Input(Watch(v1::DELETED, image));
}

void World::PutPolicy(const v1::PullPolicy& policy) {
  bool existed = policies_.count(policy.name()) > 0;
  policies_[policy.name()] = policy;
  if (started_) Input(Watch(existed ? v1::MODIFIED : v1::ADDED, policy));
}

void World::DeletePolicy(const std::string& name) {
  auto it = policies_.find(name);
  if (it == policies_.end()) return;
  v1::PullPolicy policy = it->second;
  policies_.erase(it);
  if (started_) Input(Watch(v1::DELETED, policy));
}

void World::RunFor(int64_t ms) {
  int64_t until = clock_.now_ms + ms;
  while (!agenda_.empty() && agenda_.next() <= until) {
    auto [when, run] = agenda_.Pop();
    clock_.now_ms = std::max(clock_.now_ms, when);
    run();
  }
  clock_.now_ms = until;
}

bool World::RunUntil(const std::function<bool()>& pred, int64_t limit_ms) {
  int64_t until = clock_.now_ms + limit_ms;
  while (!pred()) {
    if (agenda_.empty() || agenda_.next() > until) {
      clock_.now_ms = until;
      return pred();
    }
    auto [when, run] = agenda_.Pop();
    clock_.now_ms = std::max(clock_.now_ms, when);
    run();
  }
  return true;
}

void World::VanishUnseen(const std::string& pod) {
  pods_.erase(pod);
  pulls_.erase(pod);
}

void World::ReplaceUnseen(const std::string& name) {
  auto it = pods_.find(name);
  if (it == pods_.end()) return;
  v1::Pod& pod = it->second;
  pod.set_uid("pod-uid-" + std::to_string(++uid_));
  pod.set_phase(v1::POD_PENDING);
  pod.clear_waiting_reason();
  pod.clear_waiting_message();
  pod.clear_terminated_reason();
  pod.clear_exit_code();
  pod.clear_finish_time_ms();
  pod.set_creation_time_ms(clock_.now_ms);
  pulls_[name] = behaviour_(pod);
  std::string uid = pod.uid();
  At(clock_.now_ms, [this, name, uid] { Progress(name, uid, 0); });
}

void World::PodEvent(v1::EventType type, const v1::Pod& pod) {
  Input(Watch(type, pod));
}

void World::Act(const v1::Entry& action) {
  const v1::ActionIssued& a = action.action();
  int64_t now = clock_.now_ms;
  switch (a.action_case()) {
    case v1::ActionIssued::kCreatePod: {
      const v1::DropPodSpec& spec = a.create_pod().pod();
      if (pods_.count(spec.name()) > 0) {
        v1::Entry r =
            ActionResultOf(action, v1::ACTION_CREATE_POD, spec.name(), false, 409, "AlreadyExists");
        At(now, [this, r] { Input(r); });
        return;
      }
      for (const auto& [name, pod] : pods_) {
        if (pod.cached_image() == spec.cached_image() && pod.node() == spec.node()) ++double_pods_;
      }
      v1::Pod pod = CreatedPod(spec, "pod-uid-" + std::to_string(++uid_), now);
      pods_[pod.name()] = pod;
      pulls_[pod.name()] = behaviour_(pod);
      creations_.push_back(
          {pod.name(), spec.cached_image(), spec.node(), a.create_pod().policy(), now});
      v1::Entry r = ActionResultOf(action, v1::ACTION_CREATE_POD, spec.name(), true, 201, "");
      r.mutable_action_result()->set_uid(pod.uid());
      LoseOnce(&lose_create_answer_, &r);
      std::string name = pod.name(), uid = pod.uid();
      At(now, [this, pod] { PodEvent(v1::ADDED, pod); });
      At(now, [this, r] { Input(r); });
      At(now, [this, name, uid] { Progress(name, uid, 0); });
      return;
    }
    case v1::ActionIssued::kDeletePod: {
      const v1::DeletePod& d = a.delete_pod();
      auto it = pods_.find(d.name());
      if (it == pods_.end() || it->second.uid() != d.uid()) {
        bool missing = it == pods_.end();
        v1::Entry r = ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), false,
                                     missing ? 404 : 409, missing ? "NotFound" : "Conflict");
        At(now, [this, r] { Input(r); });
        return;
      }
      if (refuse_deletes_) {
        v1::Entry r =
            ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), false, 403, "Forbidden");
        At(now, [this, r] { Input(r); });
        return;
      }
      if (fail_delete_) {
        fail_delete_ = false;
        v1::Entry r =
            ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), false, 500, "InternalError");
        At(now, [this, r] { Input(r); });
        return;
      }
      v1::Pod pod = it->second;
      pods_.erase(it);
      pulls_.erase(d.name());
      At(now, [this, pod] { PodEvent(v1::DELETED, pod); });
      v1::Entry r = ActionResultOf(action, v1::ACTION_DELETE_POD, d.name(), true, 200, "");
      LoseOnce(&lose_delete_answer_, &r);
      At(now, [this, r] { Input(r); });
      return;
    }
    case v1::ActionIssued::kPatchStatus: {
      const v1::PatchStatus& p = a.patch_status();
      auto it = images_.find(p.cached_image());
      if (it == images_.end() || it->second.uid() != p.uid()) {
        v1::Entry r = ActionResultOf(action, v1::ACTION_PATCH_STATUS, p.cached_image(), false, 404,
                                     "NotFound");
        At(now, [this, r] { Input(r); });
        return;
      }
      if (fail_status_write_) {
        fail_status_write_ = false;
        v1::Entry r = ActionResultOf(action, v1::ACTION_PATCH_STATUS, p.cached_image(), false, 500,
                                     "InternalError");
        At(now, [this, r] { Input(r); });
        return;
      }
      *it->second.mutable_status() = p.status();
      it->second.set_resource_version(std::to_string(++rv_));
      v1::CachedImage image = Projected(it->second);
      At(now, [this, image] { Input(Watch(v1::MODIFIED, image)); });
      v1::Entry r =
          ActionResultOf(action, v1::ACTION_PATCH_STATUS, p.cached_image(), true, 200, "");
      LoseOnce(&lose_status_answer_, &r);
      At(now, [this, r] { Input(r); });
      return;
    }
    case v1::ActionIssued::kEmitEvent:
      events_.push_back(a.emit_event());
      return;
    case v1::ActionIssued::kRequeue: {
      std::string key = KeyString(a.requeue().key());
      int64_t at = a.requeue().at_ms();
      timers_[key] = at;
      v1::Key k = a.requeue().key();
      At(std::max(at, now), [this, key, at, k] {
        auto it = timers_.find(key);
        if (it == timers_.end() || it->second != at) return;  // replaced
        timers_.erase(it);
        v1::Entry e;
        *e.mutable_timer()->mutable_key() = k;
        Input(e);
      });
      return;
    }
    case v1::ActionIssued::ACTION_NOT_SET:
      return;
  }
}

// The simulated kubelet: one step of a pod's life at a time, while the pod exists.
void World::Progress(const std::string& name, const std::string& uid, int step) {
  auto it = pods_.find(name);
  if (it == pods_.end() || it->second.uid() != uid) return;
  v1::Pod& pod = it->second;
  const Pull pull = pulls_[name];
  int64_t now = clock_.now_ms;
  auto next = [&](int64_t delay, int s) {
    At(now + delay, [this, name, uid, s] { Progress(name, uid, s); });
  };
  switch (pull.mode) {
    case Pull::kSucceed:
    case Pull::kExitFailure:
      if (step == 0) {
        next(pull.duration_ms, 1);
        return;
      }
      pod.set_waiting_reason("");
      pod.set_finish_time_ms(now);
      if (pull.mode == Pull::kSucceed) {
        pulled_.insert({pod.node(), pod.image()});
        pod.set_phase(v1::POD_SUCCEEDED);
        pod.set_terminated_reason("Completed");
      } else {
        pod.set_phase(v1::POD_FAILED);
        pod.set_terminated_reason("Error");
        pod.set_exit_code(1);
      }
      PodEvent(v1::MODIFIED, pod);
      return;
    case Pull::kNotFound:
    case Pull::kAuthFailure: {
      // ErrImagePull, then ImagePullBackOff until the next try: 10 s doubling to 5 min.
      if (step == 0) {
        next(500, 1);
        return;
      }
      bool err = step % 2 == 1;
      pod.set_waiting_reason(err ? "ErrImagePull" : "ImagePullBackOff");
      pod.set_waiting_message(pull.mode == Pull::kNotFound
                                  ? "manifest unknown"
                                  : "unauthorized: authentication required");
      PodEvent(v1::MODIFIED, pod);
      int tries = step / 2 - 1;  // backoffs served before this one
      int64_t backoff = std::min<int64_t>(10'000LL << std::min(tries, 5), 300'000);
      next(err ? 100 : backoff, step + 1);
      return;
    }
    case Pull::kGone:
      if (step == 0) {
        next(pull.duration_ms, 1);
        return;
      }
      pod.set_phase(v1::POD_FAILED);
      pod.set_waiting_reason("PodInitializing");
      pod.set_finish_time_ms(now);
      PodEvent(v1::MODIFIED, pod);
      return;
    case Pull::kHang:
      return;
  }
}

void StartWithAnInvalidPolicy(World* w) {
  w->PutNode(NodeBuilder("a"));
  w->PutPolicy(PolicyBuilder("broken", 0));
  w->PutImage(ImageBuilder("web", "web:1").Policy("broken"));
  w->Start();
}

}  // namespace drop::testing
