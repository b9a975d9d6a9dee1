#include "k8s/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>

#include <limits>

#include "core/pacing.h"
#include "core/state.h"

namespace drop::k8s {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Makes the family's series the `wanted` ones, by labels: each is set to its value, and a series
// no longer wanted (its object is gone) is removed instead of reporting its last value forever.
void SetSeries(prometheus::Family<prometheus::Gauge>& family,
               std::map<prometheus::Labels, prometheus::Gauge*>* kept,
               const std::map<prometheus::Labels, double>& wanted) {
  std::erase_if(*kept, [&](const auto& series) {
    if (wanted.count(series.first) > 0) return false;
    family.Remove(series.second);
    return true;
  });
  for (const auto& [labels, value] : wanted) {
    auto [it, inserted] = kept->try_emplace(labels, nullptr);
    if (inserted) it->second = &family.Add(labels);
    it->second->Set(value);
  }
}

// drop_journal_*: read from the journal's own counters at scrape time.
class JournalCollector : public prometheus::Collectable {
 public:
  JournalCollector(const journal::JournalMetrics* m, std::function<uint64_t()> bytes)
      : m_(m), bytes_(std::move(bytes)) {}

  std::vector<MetricFamily> Collect() const override {
    std::vector<MetricFamily> out;
    auto one = [&](const char* name, const char* help, MetricType type, double value) {
      ClientMetric metric;
      if (type == MetricType::Counter) {
        metric.counter.value = value;
      } else {
        metric.gauge.value = value;
      }
      out.push_back(MetricFamily{name, help, type, {metric}});
    };
    if (m_ != nullptr) {
      one("drop_journal_entries_appended_total", "Entries made durable in the journal.",
          MetricType::Counter, static_cast<double>(m_->entries_appended.load()));
      one("drop_journal_bytes_appended_total", "Bytes of entries made durable in the journal.",
          MetricType::Counter, static_cast<double>(m_->bytes_appended.load()));
      one("drop_journal_commits_total",
          "Synced writes to the journal (a group commit counts once).", MetricType::Counter,
          static_cast<double>(m_->batches_committed.load()));
      one("drop_journal_snapshots_total", "Snapshots of the state written to the journal.",
          MetricType::Counter, static_cast<double>(m_->snapshots_written.load()));
      one("drop_journal_entries_dropped_total", "Entries dropped by journal retention.",
          MetricType::Counter, static_cast<double>(m_->entries_dropped.load()));
      one("drop_journal_last_sequence", "Sequence number of the newest durable entry.",
          MetricType::Gauge, static_cast<double>(m_->last_seq.load()));
      ClientMetric h;
      uint64_t cumulative = 0;
      const auto& bounds = journal::LatencyHistogram::kBounds;
      for (size_t i = 0; i < bounds.size(); ++i) {
        cumulative += m_->commit_seconds.count(i);
        h.histogram.bucket.push_back({cumulative, bounds[i]});
      }
      cumulative += m_->commit_seconds.count(bounds.size());
      h.histogram.bucket.push_back({cumulative, std::numeric_limits<double>::infinity()});
      h.histogram.sample_count = cumulative;
      h.histogram.sample_sum = m_->commit_seconds.sum_seconds();
      out.push_back(MetricFamily{"drop_journal_commit_duration_seconds",
                                 "Time to make a batch durable (write and sync).",
                                 MetricType::Histogram,
                                 {h}});
    }
    if (bytes_) {
      one("drop_journal_bytes_on_disk", "Size of the journal directory.", MetricType::Gauge,
          static_cast<double>(bytes_()));
    }
    return out;
  }

 private:
  const journal::JournalMetrics* m_;
  std::function<uint64_t()> bytes_;
};

const char* ControllerOf(v1::ActionKind kind) {
  return kind == v1::ACTION_CREATE_POD ? "pullpolicy" : "cachedimage";
}

}  // namespace

Metrics::Metrics(const journal::JournalMetrics* journal, std::function<uint64_t()> bytes_on_disk)
    : registry_(std::make_shared<prometheus::Registry>()),
      active_pulls_(prometheus::BuildGauge()
                        .Name("drop_active_pulls")
                        .Help("Drop pods in flight (Pending or Running, not waiting on an image "
                              "pull error), by PullPolicy.")
                        .Register(*registry_)),
      pull_errors_(prometheus::BuildCounter()
                       .Name("drop_pull_errors_total")
                       .Help("Pulls that failed, by image, node and reason.")
                       .Register(*registry_)),
      pull_duration_(prometheus::BuildHistogram()
                         .Name("drop_pull_duration_seconds")
                         .Help("From drop pod creation to the pull's outcome.")
                         .Register(*registry_)),
      reconciles_(prometheus::BuildCounter()
                      .Name("drop_reconcile_total")
                      .Help("Reconciles by controller and result; result=error counts the "
                            "API writes they issued that failed.")
                      .Register(*registry_)),
      source_health_(prometheus::BuildGauge()
                         .Name("drop_discovery_source_health")
                         .Help("1 when a DiscoveryPolicy source answered at its last sync.")
                         .Register(*registry_)),
      pacing_decisions_(prometheus::BuildCounter()
                            .Name("drop_pacing_decisions_total")
                            .Help("Pacing evaluations that started or blocked a pull, by verdict.")
                            .Register(*registry_)) {
  journal_ = std::make_shared<JournalCollector>(journal, std::move(bytes_on_disk));
}

std::string Metrics::Scrape() const {
  std::vector<MetricFamily> families;
  for (const auto& c : collectables()) {
    auto more = c->Collect();
    families.insert(families.end(), more.begin(), more.end());
  }
  return prometheus::TextSerializer().Serialize(families);
}

void Metrics::Observe(std::span<const v1::Entry> batch, const v1::State& state) {
  static const prometheus::Histogram::BucketBoundaries kPullBuckets = {
      0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800};
  // Which reconciles requeued themselves.
  std::map<uint64_t, bool> requeued;
  for (const v1::Entry& e : batch) {
    if (e.has_action() && e.action().has_requeue()) requeued[e.reconcile_id()] = true;
  }
  for (const v1::Entry& e : batch) {
    switch (e.kind_case()) {
      case v1::Entry::kReconcile: {
        const char* controller =
            e.reconcile().key().kind() == v1::KIND_PULL_POLICY ? "pullpolicy" : "cachedimage";
        const char* result = requeued.count(e.seq()) > 0 ? "requeue" : "success";
        reconciles_.Add({{"controller", controller}, {"result", result}}).Increment();
        break;
      }
      case v1::Entry::kActionResult:
        if (!e.action_result().ok() && e.action_result().reason() != "AlreadyExists" &&
            e.action_result().reason() != "NotFound") {
          reconciles_
              .Add({{"controller", ControllerOf(e.action_result().kind())}, {"result", "error"}})
              .Increment();
        }
        break;
      case v1::Entry::kPacing:
        pacing_decisions_.Add({{"verdict", VerdictName(e.pacing().verdict())}}).Increment();
        break;
      case v1::Entry::kOutcome: {
        const v1::PullOutcome& o = e.outcome();
        bool ok = o.outcome() == v1::PULL_SUCCEEDED;
        pull_duration_.Add({{"outcome", ok ? "succeeded" : "failed"}}, kPullBuckets)
            .Observe(static_cast<double>(o.duration_ms()) / 1000.0);
        if (!ok) {
          const v1::ImageRecord* image = Find(state.images(), o.cached_image());
          std::string ref = image != nullptr ? image->object().spec().image() : o.cached_image();
          pull_errors_.Add({{"image", ref}, {"node", o.node()}, {"reason", o.reason()}})
              .Increment();
        }
        break;
      }
      default:
        break;
    }
  }
  // Active pulls per policy, from the state the batch led to. Pods are kept by CachedImage, so
  // their policies come in runs: one map lookup per run, not per pod. A policy that is gone, with
  // no pod left under it, takes its series with it.
  std::map<prometheus::Labels, double> pulls;
  for (const v1::PolicyRecord& p : state.policies())
    pulls[{{"policy", PolicyName(p.object().name())}}] = 0;
  double* count = nullptr;
  const std::string* policy = nullptr;
  for (const v1::PodRecord& pod : AllPods(state)) {
    if (policy == nullptr || pod.policy() != *policy) {
      policy = &pod.policy();
      count = &pulls[{{"policy", PolicyName(*policy)}}];
    }
    *count += IsActive(pod);
  }
  SetSeries(active_pulls_, &active_by_policy_, pulls);
  // Source health, from each DiscoveryPolicy's last result: a deleted policy, or a source its
  // last result no longer lists, takes its series with it.
  std::map<prometheus::Labels, double> health;
  for (const v1::DiscoveryRecord& d : state.discovery()) {
    for (const v1::SourceResult& source : d.last_result().sources())
      health[{{"policy", d.object().name()}, {"source", source.name()}}] = source.healthy();
  }
  SetSeries(source_health_, &health_by_source_, health);
}

}  // namespace drop::k8s
