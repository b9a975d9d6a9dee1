#include "replay/timeline.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <map>
#include <numeric>

#include "core/duration.h"
#include "core/state.h"
#include "replay/history.h"
#include "replay/release.h"

namespace drop::replay {
namespace {

// Unsigned LEB128, as the page's decoder reads it.
class Packer {
 public:
  void Put(uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }
  void PutTime(int64_t ms) { Put(static_cast<uint64_t>(std::max<int64_t>(0, ms))); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

std::string Base64(const std::string& in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                 static_cast<uint8_t>(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

boost::json::array Strings(const std::vector<std::string>& names) {
  boost::json::array a;
  for (const std::string& n : names)
    a.push_back(boost::json::string(n));
  return a;
}

// Verdict codes the page knows: 0 none (every image that could start did), 1 WaitConcurrency,
// 2 WaitMinDelay, 3 WaitBackoff (a backoff's delay), 4 NoEligibleNode, 5 WaitBackoff (one node at
// a time while a pull of the image fails: see Holds).
int VerdictCode(v1::Verdict v) {
  switch (v) {
    case v1::WAIT_CONCURRENCY:
      return 1;
    case v1::WAIT_MIN_DELAY:
      return 2;
    case v1::WAIT_BACKOFF:
      return 3;
    case v1::NO_ELIGIBLE_NODE:
      return 4;
    default:
      return 0;
  }
}

}  // namespace

std::vector<std::vector<Hold>> Holds(const History& h, int64_t end_ms) {
  std::vector<std::vector<Hold>> holds(static_cast<size_t>(h.images.size()));
  // A WaitBackoff with no end of its own holds a failing image to one pull at a time (rule 4). A
  // backoff ends when it says; that hold and NoEligibleNode last until the next decision.
  auto hold = [&](const PassRecord::Held& held, int64_t at) {
    const bool delay = held.not_before_ms > at;
    const int code = held.verdict == v1::WAIT_BACKOFF && !delay ? 5 : VerdictCode(held.verdict);
    holds[held.image].push_back({at, delay ? std::min(held.not_before_ms, end_ms) : end_ms, code});
  };
  for (const PassRecord::Held& held : h.held_from)
    hold(held, h.from_ms);
  // A later decision about the image ends its last hold, if that still runs.
  auto close = [&](int image, int64_t at) {
    if (image < 0 || holds[image].empty()) return;
    Hold& last = holds[image].back();
    last.to_ms = std::max(last.from_ms, std::min(last.to_ms, at));
  };
  for (const PassRecord& p : h.passes) {
    for (const PassRecord::Started& st : p.started)
      close(st.image, p.time_ms);
    // The pass found the image next in line, held by the policy: its own hold is over.
    if (p.blocking == v1::WAIT_CONCURRENCY || p.blocking == v1::WAIT_MIN_DELAY) {
      close(p.next_image, p.time_ms);
    }
    for (const PassRecord::Held& held : p.held) {
      close(held.image, p.time_ms);
      hold(held, p.time_ms);
    }
  }
  return holds;
}

std::vector<std::vector<ActivePoint>> ActiveLines(const History& h) {
  const size_t n = static_cast<size_t>(h.policies.size());
  std::vector<std::vector<ActivePoint>> lines(n);
  // A policy's limit and verdict: as the state at the range's start has them
  // (History::limit_from), else from its first pass in the range; one with neither has no line.
  std::vector<int64_t> limit(n, -1);
  std::vector<v1::Verdict> blocking(n, v1::VERDICT_UNKNOWN);
  for (size_t p = 0; p < n && p < h.limit_from.size(); ++p) {
    limit[p] = h.limit_from[p];
    blocking[p] = h.blocking_from[p];
  }
  for (const PassRecord& p : h.passes) {
    if (p.active_before >= 0 && limit[p.policy] < 0) limit[p.policy] = p.limit;
  }
  std::vector<int64_t> count(n, 0);
  // A point where the line changes; of several in one millisecond, the last.
  auto add = [&](size_t policy, int64_t at) {
    if (limit[policy] < 0) return;
    std::vector<ActivePoint>& line = lines[policy];
    const ActivePoint p{line.empty() ? at : std::max(line.back().time_ms, at), count[policy],
                        limit[policy], blocking[policy]};
    auto same = [&](const ActivePoint& q) {
      return q.active == p.active && q.limit == p.limit && q.blocking == p.blocking;
    };
    if (!line.empty() && line.back().time_ms == p.time_ms) line.pop_back();
    if (line.empty() || !same(line.back())) line.push_back(p);
  };
  for (size_t policy = 0; policy < n; ++policy) {
    count[policy] = policy < h.active_from.size() ? h.active_from[policy] : 0;
    const bool known = policy < h.limit_from.size() && h.limit_from[policy] >= 0;
    if (count[policy] > 0 || known) add(policy, h.from_ms);
  }
  // The pods' changes and the passes, in journal order. A pass's own count is the core's: it
  // comes before the pods the pass creates, and the line takes it as it is (what the history's
  // skims miss, such as a CachedImage a relist swept, is set right there). A change is dated no
  // earlier than the point before it: a pull a relist found ended is dated to the kubelet's finish.
  size_t c = 0;
  const std::vector<ActiveChange>& changes = h.active_changes;
  auto apply_changes_before = [&](uint64_t seq) {
    for (; c < changes.size() && changes[c].seq < seq; ++c) {
      const size_t policy = static_cast<size_t>(changes[c].policy);
      count[policy] = std::max<int64_t>(0, count[policy] + changes[c].delta);
      add(policy, changes[c].at_ms);
    }
  };
  for (const PassRecord& p : h.passes) {
    apply_changes_before(p.reconcile_id);
    if (p.active_before < 0) continue;
    const size_t policy = static_cast<size_t>(p.policy);
    limit[policy] = p.limit;
    blocking[policy] = p.blocking;
    count[policy] = p.active_before;
    add(policy, p.time_ms);
  }
  apply_changes_before(~uint64_t{0});
  return lines;
}

Result<TimelineFigures> WriteTimeline(const Reader& r, const TimelineOptions& o,
                                      std::ostream& out) {
  if (r.empty()) return r.NoEntries();
  Point from = r.origin();
  uint64_t to = r.last();
  if (!o.since.empty()) {
    Result<Point> p = r.Resolve(o.since, o.since_flag, /*range_start=*/true);
    if (!p.ok()) return p.status();
    from = *p;
  }
  if (!o.until.empty()) {
    Result<Point> p = r.Resolve(o.until, o.until_flag);
    if (!p.ok()) return p.status();
    to = p->seq;
  }
  if (to < from.seq) {
    return Status::InvalidArgument(o.until_flag + " " + o.until + " (entry " + std::to_string(to) +
                                   ") is before " + o.since_flag + " " + o.since + " (entry " +
                                   std::to_string(from.seq) + "): swap them");
  }
  Result<History> scanned = History::Scan(r, from, to, HistoryOptions{});
  if (!scanned.ok()) return scanned.status();
  History& h = *scanned;
  const int64_t t0 = from.time_ms;
  const int64_t t1 = std::max(h.to_ms, t0 + 1);

  // Lanes in node-name order.
  std::vector<int> order(h.nodes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return h.nodes[a] < h.nodes[b]; });
  std::vector<int> lane(h.nodes.size());
  std::vector<std::string> lanes;
  for (size_t i = 0; i < order.size(); ++i) {
    lane[order[i]] = static_cast<int>(i);
    lanes.push_back(h.nodes[order[i]]);
  }

  // Failure reasons, interned.
  std::map<std::string, int> reason_ids;
  std::vector<std::string> reasons = {""};
  auto reason = [&](const std::string& text) {
    auto [it, inserted] = reason_ids.try_emplace(text, static_cast<int>(reasons.size()));
    if (inserted) reasons.push_back(text);
    return it->second;
  };

  Packer pack;
  pack.Put(h.pulls.size() + h.waiting.size());
  int64_t previous = t0;
  // Pulls come in journal order, which is start order unless the operator's clock stepped back.
  auto by_start = [](const PullRecord& a, const PullRecord& b) { return a.start_ms < b.start_ms; };
  if (!std::is_sorted(h.pulls.begin(), h.pulls.end(), by_start)) {
    std::stable_sort(h.pulls.begin(), h.pulls.end(), by_start);
  }
  // Pulls under way at the range's start are drawn from it: how much earlier each began.
  std::vector<std::pair<size_t, int64_t>> early;
  for (const PullRecord& p : h.pulls) {
    int64_t start = std::max(p.start_ms, t0);
    if (p.start_ms < t0) early.emplace_back(&p - h.pulls.data(), t0 - p.start_ms);
    pack.Put(static_cast<uint64_t>(lane[p.node]));
    pack.Put(static_cast<uint64_t>(p.image));
    pack.Put(static_cast<uint64_t>(p.policy));
    pack.PutTime(start - previous);
    pack.PutTime(start - std::max(t0, std::min(p.wait_from_ms, start)));
    pack.PutTime(p.end_ms > 0 ? p.end_ms - start : 0);
    int outcome = p.end_ms == 0 ? 0 : p.outcome == v1::PULL_SUCCEEDED ? 1 : 2;
    int why = outcome == 2 ? reason(p.reason + (p.message.empty() ? "" : ": " + p.message)) : 0;
    pack.Put(static_cast<uint64_t>(outcome | (why << 2)));
    previous = start;
  }
  // Nodes still waiting at the end: a wait up to the end, and no pull (outcome 3).
  for (const WaitingRecord& w : h.waiting) {
    pack.Put(static_cast<uint64_t>(lane[w.node]));
    pack.Put(static_cast<uint64_t>(w.image));
    pack.Put(static_cast<uint64_t>(w.policy));
    pack.PutTime(t1 - previous);
    pack.PutTime(t1 - std::max(t0, std::min(w.since_ms, t1)));
    pack.PutTime(0);
    pack.Put(3);
    previous = t1;
  }
  std::vector<std::vector<ActivePoint>> lines = ActiveLines(h);
  pack.Put(lines.size());
  size_t points = 0;
  for (const std::vector<ActivePoint>& series : lines) {
    pack.Put(series.size());
    int64_t last = t0;
    for (const ActivePoint& p : series) {
      pack.PutTime(p.time_ms - last);
      last = std::max(last, p.time_ms);
      pack.Put(static_cast<uint64_t>(p.active));
      pack.Put(static_cast<uint64_t>(p.limit));
      pack.Put(static_cast<uint64_t>(VerdictCode(p.blocking)));
    }
    points += series.size();
  }

  // Each image's own holds, for the reasons of a wait.
  const std::vector<std::vector<Hold>> holds = Holds(h, t1);
  pack.Put(holds.size());
  for (const std::vector<Hold>& list : holds) {
    pack.Put(list.size());
    int64_t last = t0;
    for (const Hold& hold : list) {
      const int64_t from = std::max(hold.from_ms, t0);
      pack.PutTime(from - last);
      pack.PutTime(hold.to_ms - from);
      pack.Put(static_cast<uint64_t>(hold.code));
      last = from;
    }
  }

  pack.Put(early.size());
  size_t last_index = 0;
  for (const auto& [index, ms] : early) {
    pack.Put(index - last_index);
    pack.PutTime(ms);
    last_index = index;
  }

  boost::json::object meta;
  meta["title"] = o.title.empty() ? "drop timeline: " + r.dir() : o.title;
  meta["t0"] = t0;
  meta["t1"] = t1;
  meta["start"] = FormatTimeMillis(t0);
  meta["end"] = FormatTimeMillis(t1);
  meta["range"] = "entries " + std::to_string(from.seq + 1) + ".." + std::to_string(to);
  meta["toEnd"] = to == r.last();  // else a pull unfinished at t1 ends after the range
  meta["nodes"] = Strings(lanes);
  meta["images"] = Strings(h.images.all());
  std::vector<std::string> policies;
  for (const std::string& p : h.policies.all())
    policies.push_back(PolicyName(p));
  meta["policies"] = Strings(policies);
  meta["reasons"] = Strings(reasons);

  std::string page = kTimelinePage;
  const std::string marker = "/*DROP_TIMELINE_DATA*/";
  size_t at = page.find(marker);
  if (at == std::string::npos) return Status::Internal("the timeline page has no data marker");
  std::string json = boost::json::serialize(meta);
  // Inside a <script> element no '<' may appear: "</script" in a name would close the element,
  // and "<!--<script" would keep the real end from closing it. In JSON a '<' is only ever inside
  // a string, where \u003c says the same.
  for (size_t i = json.find('<'); i != std::string::npos; i = json.find('<', i + 6))
    json.replace(i, 1, "\\u003c");
  std::string data = "const META = " + json + ";\nconst BLOB = \"" + Base64(pack.bytes()) + "\";\n";
  page.replace(at, marker.size(), data);
  out << page;
  if (!out) return Status::IOError("writing the timeline failed");
  TimelineFigures f;
  f.lanes = lanes.size();
  f.spans = h.pulls.size();
  f.waiting = h.waiting.size();
  f.passes = points;
  f.bytes = page.size();
  FreeLater(std::move(h));
  return f;
}

}  // namespace drop::replay
