#include "core/scheduling.h"

#include <algorithm>

#include "core/state.h"

namespace drop {

const char* FitName(Fit fit) {
  switch (fit) {
    case Fit::kTargeted:
      return "Targeted";
    case Fit::kSelectorMismatch:
      return "SelectorMismatch";
    case Fit::kTaintNotTolerated:
      return "TaintNotTolerated";
    case Fit::kNotReady:
      return "NotReady";
    case Fit::kUnschedulable:
      return "Unschedulable";
  }
  return "Unknown";
}

bool MatchesSelector(const google::protobuf::RepeatedPtrField<v1::Label>& labels,
                     const google::protobuf::RepeatedPtrField<v1::Label>& selector) {
  // Both lists are sorted by key: one merge pass.
  int i = 0;
  for (const v1::Label& want : selector) {
    while (i < labels.size() && labels[i].key() < want.key())
      ++i;
    if (i == labels.size() || labels[i].key() != want.key() || labels[i].value() != want.value()) {
      return false;
    }
  }
  return true;
}

bool Tolerates(const v1::Toleration& t, const v1::Taint& taint) {
  if (!t.effect().empty() && t.effect() != taint.effect()) return false;
  if (!t.key().empty() && t.key() != taint.key()) return false;
  if (t.operator_() == "Exists") return true;  // an empty key with Exists tolerates everything
  if (t.key().empty()) return false;           // Equal needs a key
  return t.value() == taint.value();           // Equal, the default operator
}

const v1::Taint* UntoleratedTaint(const v1::Node& node,
                                  const google::protobuf::RepeatedPtrField<v1::Toleration>& tols) {
  for (const v1::Taint& taint : node.taints()) {
    if (taint.effect() != "NoSchedule" && taint.effect() != "NoExecute") continue;
    bool tolerated = false;
    for (const v1::Toleration& t : tols)
      tolerated = tolerated || Tolerates(t, taint);
    if (!tolerated) return &taint;
  }
  return nullptr;
}

Fit FitNode(const v1::Node& node, const v1::CachedImageSpec& spec) {
  if (!MatchesSelector(node.labels(), spec.node_selector())) return Fit::kSelectorMismatch;
  if (!node.ready()) return Fit::kNotReady;
  if (node.unschedulable()) return Fit::kUnschedulable;
  if (UntoleratedTaint(node, spec.tolerations()) != nullptr) return Fit::kTaintNotTolerated;
  return Fit::kTargeted;
}

bool SameFit(const v1::Node& a, const v1::Node& b) {
  auto same_label = [](const v1::Label& x, const v1::Label& y) {
    return x.key() == y.key() && x.value() == y.value();
  };
  auto same_taint = [](const v1::Taint& x, const v1::Taint& y) {
    return x.key() == y.key() && x.value() == y.value() && x.effect() == y.effect();
  };
  return a.ready() == b.ready() && a.unschedulable() == b.unschedulable() &&
         std::ranges::equal(a.labels(), b.labels(), same_label) &&
         std::ranges::equal(a.taints(), b.taints(), same_taint);
}

namespace {

std::string SelectorText(const v1::CachedImageSpec& spec) {
  std::string want;
  for (const v1::Label& l : spec.node_selector())
    want += (want.empty() ? "" : ",") + l.key() + "=" + l.value();
  return want;
}

std::string TaintText(const v1::Taint& t) {
  return t.key() + (t.value().empty() ? "" : "=" + t.value()) + ":" + t.effect();
}

}  // namespace

std::string ExplainFit(const v1::Node& node, const v1::CachedImageSpec& spec) {
  switch (FitNode(node, spec)) {
    case Fit::kTargeted:
      return "targeted";
    case Fit::kSelectorMismatch:
      return "labels do not match nodeSelector " + SelectorText(spec);
    case Fit::kNotReady:
      return "node is NotReady";
    case Fit::kUnschedulable:
      return "node is unschedulable (cordoned)";
    case Fit::kTaintNotTolerated:
      return "taint " + TaintText(*UntoleratedTaint(node, spec.tolerations())) +
             " is not tolerated";
  }
  return "unknown";
}

std::string WhyNoNodeFits(const v1::State& state, const v1::CachedImageSpec& spec) {
  if (state.nodes_size() == 0) return "the cluster has no nodes";
  // Only the nodes the selector picks are counted: the rest are not this image's to explain, and
  // counting them would change the message (and write the status) whenever any node comes or goes.
  int selected = 0, not_ready = 0, cordoned = 0, tainted = 0;
  const v1::Node* first_tainted = nullptr;
  for (const v1::NodeRecord& r : state.nodes()) {
    switch (FitNode(r.node(), spec)) {
      case Fit::kTargeted:
      case Fit::kSelectorMismatch:
        continue;
      case Fit::kNotReady:
        ++not_ready;
        break;
      case Fit::kUnschedulable:
        ++cordoned;
        break;
      case Fit::kTaintNotTolerated:
        if (tainted++ == 0) first_tainted = &r.node();
        break;
    }
    ++selected;
  }
  if (selected == 0) {
    return "no node has the labels of spec.nodeSelector (" + SelectorText(spec) +
           "); label the nodes, or change spec.nodeSelector";
  }
  std::string out = "of the " + std::to_string(selected) + (selected == 1 ? " node" : " nodes");
  if (spec.node_selector_size() > 0) out += " with labels " + SelectorText(spec);
  auto add = [&](int n, const char* one, const char* many, const std::string& what) {
    if (n > 0) out += ", " + std::to_string(n) + " " + (n == 1 ? one : many) + what;
  };
  add(not_ready, "is", "are", " NotReady");
  add(cordoned, "is", "are", " cordoned (unschedulable)");
  if (first_tainted != nullptr) {
    add(tainted, "has a taint", "have taints",
        " spec.tolerations does not tolerate (node " + first_tainted->name() + ": " +
            TaintText(*UntoleratedTaint(*first_tainted, spec.tolerations())) +
            "); add a toleration to spec.tolerations to target " + (tainted == 1 ? "it" : "them"));
  }
  return out;
}

}  // namespace drop
