// Questions tests ask of a journal: which pacing decisions, outcomes and actions it holds.
#pragma once

#include <string>
#include <vector>

#include "core/schema.h"

namespace drop::testing {

inline std::vector<v1::PacingDecision> Decisions(const std::vector<v1::Entry>& journal,
                                                 v1::Verdict verdict) {
  std::vector<v1::PacingDecision> out;
  for (const v1::Entry& e : journal) {
    if (e.has_pacing() && e.pacing().verdict() == verdict) out.push_back(e.pacing());
  }
  return out;
}

inline std::vector<v1::Entry> Outcomes(const std::vector<v1::Entry>& journal, v1::Outcome outcome) {
  std::vector<v1::Entry> out;
  for (const v1::Entry& e : journal) {
    if (e.has_outcome() && e.outcome().outcome() == outcome) out.push_back(e);
  }
  return out;
}

inline std::vector<v1::Entry> Deletes(const std::vector<v1::Entry>& journal,
                                      const std::string& reason = "") {
  std::vector<v1::Entry> out;
  for (const v1::Entry& e : journal) {
    if (e.has_action() && e.action().has_delete_pod() &&
        (reason.empty() || e.action().delete_pod().reason() == reason)) {
      out.push_back(e);
    }
  }
  return out;
}

}  // namespace drop::testing
