// The operator's Prometheus metrics (the user guide's five, plus pacing and journal), fed from
// each committed batch of journal entries, so they say what drop decided and recorded.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/schema.h"
#include "journal/metrics.h"

namespace drop::k8s {

class Metrics {
 public:
  // `journal` (may be null) and `bytes_on_disk` feed the drop_journal_* family at scrape time.
  Metrics(const journal::JournalMetrics* journal, std::function<uint64_t()> bytes_on_disk);

  // What /metrics serves: the registry and the journal's collector.
  std::vector<std::shared_ptr<prometheus::Collectable>> collectables() const {
    return {registry_, journal_};
  }
  // The text exposition format, as a scrape would get it.
  std::string Scrape() const;

  // Counts what a committed batch holds and sets the gauges from the state it led to.
  // Loop thread only.
  void Observe(std::span<const v1::Entry> batch, const v1::State& state);

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Collectable> journal_;
  prometheus::Family<prometheus::Gauge>& active_pulls_;
  prometheus::Family<prometheus::Counter>& pull_errors_;
  prometheus::Family<prometheus::Histogram>& pull_duration_;
  prometheus::Family<prometheus::Counter>& reconciles_;
  prometheus::Family<prometheus::Gauge>& source_health_;
  prometheus::Family<prometheus::Counter>& pacing_decisions_;
  // The gauge series set so far, by labels: the ones the state no longer names are removed.
  std::map<prometheus::Labels, prometheus::Gauge*> active_by_policy_;
  std::map<prometheus::Labels, prometheus::Gauge*> health_by_source_;
};

}  // namespace drop::k8s
