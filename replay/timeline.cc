#include "replay/timeline.h"

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <map>
#include <numeric>

#include "core/duration.h"
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
// 2 WaitMinDelay.
int VerdictCode(v1::Verdict v) {
  return v == v1::WAIT_CONCURRENCY ? 1 : v == v1::WAIT_MIN_DELAY ? 2 : 0;
}

}  // namespace

std::vector<std::vector<ActivePoint>> ActiveLines(const History& h) {
  std::vector<std::vector<ActivePoint>> lines(h.policies.size());
  auto add = [](std::vector<ActivePoint>& line, const ActivePoint& p) {
    if (!line.empty() && line.back().active == p.active && line.back().limit == p.limit &&
        line.back().blocking == p.blocking) {
      return;
    }
    line.push_back(p);
  };
  // The active pulls and limit after each pass that evaluated a lane, and the verdict that ended
  // it.
  for (const PassRecord& p : h.passes) {
    if (p.active_before >= 0) {
      add(lines[p.policy], {p.time_ms, p.active_after, p.limit, p.blocking});
    }
  }
  // After a policy's last pass that decided something its pulls still end, and move with their
  // CachedImages: the line follows them, in journal order, rather than stay at the last pass's
  // count. (A policy with no such pass has no line to follow.)
  std::vector<uint64_t> last_pass(lines.size(), 0);
  for (const PassRecord& p : h.passes) {
    if (p.active_before >= 0) last_pass[p.policy] = std::max(last_pass[p.policy], p.reconcile_id);
  }
  struct Change {
    uint64_t seq;
    int64_t at_ms;
    int delta;
  };
  std::vector<std::vector<Change>> changes(lines.size());
  auto change = [&](int policy, uint64_t seq, int64_t at, int delta) {
    if (!lines[policy].empty() && seq > last_pass[policy]) {
      changes[policy].push_back({seq, at, delta});
    }
  };
  for (const PullRecord& pull : h.pulls) {
    int under = pull.policy;
    for (const PullRecord::Move& m : pull.moves) {
      change(under, m.seq, m.at_ms, -1);
      change(m.to, m.seq, m.at_ms, +1);
      under = m.to;
    }
    if (pull.end_ms > 0) change(under, pull.end_seq, pull.end_ms, -1);
  }
  for (size_t policy = 0; policy < lines.size(); ++policy) {
    std::vector<Change>& c = changes[policy];
    std::sort(c.begin(), c.end(), [](const Change& a, const Change& b) { return a.seq < b.seq; });
    ActivePoint last = lines[policy].empty() ? ActivePoint{} : lines[policy].back();
    for (const Change& x : c) {
      // A pull a relist found ended is dated to the kubelet's finish, which can come before
      // the entry that recorded it: the line does not go back in time.
      last.time_ms = std::max(last.time_ms, x.at_ms);
      last.active = std::max<int64_t>(0, last.active + x.delta);
      add(lines[policy], last);
    }
  }
  return lines;
}

Result<TimelineFigures> WriteTimeline(const Reader& r, const TimelineOptions& o,
                                      std::ostream& out) {
  if (r.empty()) return r.NoEntries();
  Point from = r.origin();
  uint64_t to = r.last();
  if (!o.since.empty()) {
    Result<Point> p = r.Resolve(o.since, o.since_flag);
    if (!p.ok()) return p.status();
    from = *p;
  }
  if (!o.until.empty()) {
    Result<Point> p = r.Resolve(o.until, o.until_flag);
    if (!p.ok()) return p.status();
    to = p->seq;
  }
  if (to < from.seq) return Status::InvalidArgument(o.until_flag + " is before " + o.since_flag);
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
  pack.Put(h.pulls.size());
  int64_t previous = t0;
  // Pulls come in journal order, which is start order unless the operator's clock stepped back.
  auto by_start = [](const PullRecord& a, const PullRecord& b) { return a.start_ms < b.start_ms; };
  if (!std::is_sorted(h.pulls.begin(), h.pulls.end(), by_start)) {
    std::stable_sort(h.pulls.begin(), h.pulls.end(), by_start);
  }
  for (const PullRecord& p : h.pulls) {
    int64_t start = std::max(p.start_ms, t0);
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

  boost::json::object meta;
  meta["title"] = o.title.empty() ? "drop timeline: " + r.dir() : o.title;
  meta["t0"] = t0;
  meta["t1"] = t1;
  meta["start"] = FormatTimeMillis(t0);
  meta["end"] = FormatTimeMillis(t1);
  meta["range"] = "entries " + std::to_string(from.seq + 1) + ".." + std::to_string(to);
  meta["nodes"] = Strings(lanes);
  meta["images"] = Strings(h.images.all());
  std::vector<std::string> policies;
  for (const std::string& p : h.policies.all())
    policies.push_back(p.empty() ? "(default)" : p);
  meta["policies"] = Strings(policies);
  meta["reasons"] = Strings(reasons);

  std::string page = kTimelinePage;
  const std::string marker = "/*DROP_TIMELINE_DATA*/";
  size_t at = page.find(marker);
  if (at == std::string::npos) return Status::Internal("the timeline page has no data marker");
  std::string json = boost::json::serialize(meta);
  // Inside a <script> element "</" must not appear: a name could close it.
  for (size_t i = json.find("</"); i != std::string::npos; i = json.find("</", i + 3))
    json.replace(i, 2, "<\\/");
  std::string data = "const META = " + json + ";\nconst BLOB = \"" + Base64(pack.bytes()) + "\";\n";
  page.replace(at, marker.size(), data);
  out << page;
  if (!out) return Status::IOError("writing the timeline failed");
  TimelineFigures f;
  f.lanes = lanes.size();
  f.spans = h.pulls.size();
  f.passes = points;
  f.bytes = page.size();
  FreeLater(std::move(h));
  return f;
}

}  // namespace drop::replay
