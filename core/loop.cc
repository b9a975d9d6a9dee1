#include "core/loop.h"

#include <algorithm>

#include "core/step.h"

namespace drop {

v1::Entry ActionResultOf(const v1::Entry& action, v1::ActionKind kind, std::string_view target,
                         bool ok, int32_t http_code, std::string_view reason) {
  v1::Entry e;
  v1::ActionResult* r = e.mutable_action_result();
  r->set_action_seq(action.seq());
  r->set_kind(kind);
  r->set_target(std::string(target));
  r->set_ok(ok);
  r->set_http_code(http_code);
  r->set_reason(std::string(reason));
  const v1::ActionIssued& a = action.action();
  if (a.has_create_pod()) {
    r->set_cached_image(a.create_pod().pod().cached_image());
    r->set_node(a.create_pod().pod().node());
  } else if (a.has_delete_pod()) {
    r->set_cached_image(a.delete_pod().cached_image());
    r->set_node(a.delete_pod().node());
  }
  return e;
}

Loop::Loop(v1::State state, JournalWriter* journal, Executor* executor, Clock* clock,
           Options options)
    : state_(std::move(state)),
      index_(state_),
      journal_(journal),
      executor_(executor),
      clock_(clock),
      options_(options) {}

void Loop::Submit(v1::Entry input) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(input));
  }
  cv_.notify_one();
}

size_t Loop::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void Loop::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

Result<size_t> Loop::RunOnce(std::chrono::milliseconds wait) {
  if (!failed_.ok()) return failed_;
  std::vector<v1::Entry> inputs;
  {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !queue_.empty() || stopping_; });
    size_t n = std::min(queue_.size(), options_.max_batch);
    inputs.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      inputs.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  if (inputs.empty()) return size_t{0};

  std::vector<v1::Entry> batch;
  batch.reserve(inputs.size() * 2);
  for (v1::Entry& input : inputs) {
    // Recorded time never goes backwards, whatever the wall clock does.
    input.set_seq(state_.last_seq() + 1);
    input.set_time_ms(std::max(clock_->NowMs(), state_.last_time_ms()));
    std::vector<v1::Entry> decisions = Step(input, &state_, &index_);
    batch.push_back(std::move(input));
    for (v1::Entry& d : decisions)
      batch.push_back(std::move(d));
  }
  v1::Entry scratch;
  for (const v1::Entry& e : batch) {
    if (Status s = journal_->Append(JournalForm(e, &scratch)); !s.ok()) {
      return failed_ = s.Annotate("journal append");
    }
  }
  if (Status s = journal_->Commit(state_); !s.ok()) return failed_ = s.Annotate("journal commit");

  for (const v1::Entry& e : batch) {
    if (e.has_action()) executor_->Execute(e);
  }
  if (hook_) hook_(batch, state_);
  return inputs.size();
}

Status Loop::Run() {
  while (true) {
    Result<size_t> n = RunOnce(std::chrono::milliseconds(100));
    if (!n.ok()) return n.status();
    std::lock_guard lock(mu_);
    if (stopping_ && queue_.empty()) return Status::Ok();
  }
}

}  // namespace drop
