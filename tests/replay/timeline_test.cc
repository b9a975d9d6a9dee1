// drop-replay timeline: one self-contained HTML file that headless Chromium renders to a PNG,
// drawing its lanes without a script error.
#include "replay/timeline.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <regex>

#include "core/pacing.h"
#include "core/state.h"
#include "replay/history.h"
#include "replay/reader.h"
#include "tests/replay/recorded.h"
#include "tests/replay/tool.h"
#include "tests/support/random_world.h"

namespace drop::replay {
namespace {

using testing::Replay;
using testing::TempDir;

// Headless Chromium with a fresh profile and nothing that reaches for the network.
std::string Chromium(const TempDir& dir, const std::string& args) {
  std::string cmd =
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir=" +
      testing::Quote(dir / "profile") + " --window-size=1400,900 " + args + " 2>" +
      testing::Quote(dir / "chromium.log");
  return cmd;
}

// The DOM headless Chromium builds of the page in file `page`, its scripts run; nullopt when
// Chromium fails (dir/chromium.log says why).
std::optional<std::string> DumpDom(const TempDir& dir, const std::string& page) {
  const std::string dom = dir / "dom.html";
  const std::string cmd =
      Chromium(dir, "--dump-dom " + testing::Quote("file://" + page)) + " >" + testing::Quote(dom);
  if (std::system(cmd.c_str()) != 0) return std::nullopt;
  return testing::ReadFile(dom);
}

// The history of the whole of `journal`, written to dir/j as the operator writes it.
Result<History> HistoryOf(const std::vector<v1::Entry>& journal, const TempDir& dir) {
  if (Status s = testing::WriteJournal(journal, dir / "j"); !s.ok()) return s;
  auto reader = Reader::Open(dir / "j");
  if (!reader.ok()) return reader.status();
  const Reader& r = **reader;
  return History::Scan(r, r.origin(), r.last(), HistoryOptions{});
}

TEST(Timeline, IsSelfContainedAndChromiumDrawsItsLanesWithoutAScriptError) {
  ASSERT_EQ(std::system("command -v chromium >/dev/null"), 0)
      << "headless Chromium is needed: `make deps` installs Debian's chromium";
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"timeline", "-o", dir / "timeline.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string html = testing::ReadFile(dir / "timeline.html");
  EXPECT_EQ(html.find("http://"), std::string::npos) << "the page must not reach the network";
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);

  std::string url = "file://" + (dir / "timeline.html");
  ASSERT_EQ(std::system((Chromium(dir, "--screenshot=" + testing::Quote(dir / "timeline.png") +
                                           " " + testing::Quote(url)))
                            .c_str()),
            0)
      << testing::ReadFile(dir / "chromium.log");
  std::string png = testing::ReadFile(dir / "timeline.png");
  ASSERT_GT(png.size(), 10'000u) << "a screenshot with lanes drawn is larger than a blank page";
  EXPECT_EQ(png.substr(1, 3), "PNG");

  std::optional<std::string> page = DumpDom(dir, dir / "timeline.html");
  ASSERT_TRUE(page) << testing::ReadFile(dir / "chromium.log");
  const std::string& dom = *page;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("data-rendered=\"([0-9]+) lanes\"")))
      << dom.substr(0, 2000);
  EXPECT_EQ(std::stoi(m[1]), 29) << "every node of the demo has a lane in view";
  // The page catches script errors into its body's data-errors and its #errors box.
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("<body[^>]*>")));
  EXPECT_EQ(m[0].str().find("data-errors"), std::string::npos) << m[0].str();
  EXPECT_NE(dom.find("<div id=\"errors\"></div>"), std::string::npos) << "a script error";
}

// Text the page embeds (the journal's path here; a registry's message too) cannot end its script
// early, nor keep its end from ending it: "<!--<script" would have the parser look past the real
// "</script>", and the page would draw nothing.
TEST(Timeline, TextThatLooksLikeMarkupLeavesThePageWhole) {
  TempDir dir;
  const std::string journal = dir / "<!--<script>j</script>";
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), journal).ok());
  testing::Run r = Replay(journal, {"timeline", "-o", dir / "timeline.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string html = testing::ReadFile(dir / "timeline.html");
  const size_t data = html.find("const META = ");
  ASSERT_NE(data, std::string::npos);
  const size_t end = html.find(";\n", html.find("const BLOB = ", data));
  EXPECT_GT(html.find('<', data), end) << "a '<' inside the data";
  std::optional<std::string> page = DumpDom(dir, dir / "timeline.html");
  ASSERT_TRUE(page) << testing::ReadFile(dir / "chromium.log");
  const std::string& dom = *page;
  EXPECT_NE(dom.find("data-rendered=\"29 lanes\""), std::string::npos) << dom.substr(0, 2000);
  EXPECT_NE(dom.find("<div id=\"errors\"></div>"), std::string::npos) << "a script error";
}

// What the page's laneShapes gives, in Chromium, for spans set after the page has loaded: the
// script `spans` sets S, BY_LANE and LONGEST, and `views` is a list of [from, to] for lane 0.
// Returns the shapes of each view as JSON: [{waits: [[x, width]], pulls: [[x, width, outcome]]}].
boost::json::array ShapesInChromium(const std::string& spans, const std::string& views) {
  TempDir dir;
  EXPECT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  testing::Run r = Replay(dir / "j", {"timeline", "-o", dir / "timeline.html"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::string html = testing::ReadFile(dir / "timeline.html");
  const std::string probe =
      "<script>\n" + spans + "\nvar out = " + views +
      ".map(function (v) { view.from = v[0]; view.to = v[1]; "
      "return laneShapes(0, 1130); });\n"
      "var pre = document.createElement('pre'); pre.id = 'shapes';\n"
      "pre.textContent = JSON.stringify(out); document.body.appendChild(pre);\n"
      "</script>\n";
  html.insert(html.rfind("</body>"), probe);
  std::ofstream(dir / "probe.html") << html;
  std::optional<std::string> page = DumpDom(dir, dir / "probe.html");
  EXPECT_TRUE(page) << testing::ReadFile(dir / "chromium.log");
  const std::string dom = page.value_or("");
  std::smatch m;
  if (!std::regex_search(dom, m, std::regex("<pre id=\"shapes\">([^<]*)</pre>"))) {
    ADD_FAILURE() << "no shapes: " << dom.substr(0, 3000);
    return {};
  }
  return boost::json::parse(m[1].str()).as_array();
}

// Spans are kept in the order their pulls start, not the order their waits begin: a wait that
// began before another image's on the same node, for a pull that started after it, is drawn
// wherever it reaches into the view. A pull over before the view is not drawn at its edge.
TEST(Timeline, ALaneDrawsEveryWaitInTheViewAndNoPullThatEndedBeforeIt) {
  // Lane 0: image 0 waits 250..300 and pulls to 310; image 1 waits 150..400 and pulls to 410.
  // Lane 1: a long wait, so that spans of lane 0 are looked at from far before the view.
  const std::string spans =
      "S = {lane: [0, 0, 1], image: [0, 1, 0], policy: [0, 0, 0], start: [300, 400, 1500],\n"
      "     wait: [50, 250, 1400], dur: [10, 10, 10], code: [1, 1, 1], early: [0, 0, 0]};\n"
      "BY_LANE = [[0, 1], [2]]; LONGEST = 1410; view.image = -1;";
  boost::json::array shapes = ShapesInChromium(spans, "[[100, 200], [1000, 2000]]");
  ASSERT_EQ(shapes.size(), 2u);
  // [100, 200]: image 1's wait, from 150 to past the view's end; image 0's begins after it.
  const boost::json::array& waits = shapes[0].at("waits").as_array();
  ASSERT_EQ(waits.size(), 1u) << shapes[0];
  EXPECT_NEAR(waits[0].as_array()[0].to_number<double>(), 130 + 0.5 * 1000, 1);
  EXPECT_TRUE(shapes[0].at("pulls").as_array().empty()) << shapes[0];
  // [1000, 2000]: both pulls of lane 0 ended long before.
  EXPECT_TRUE(shapes[1].at("waits").as_array().empty()) << shapes[1];
  EXPECT_TRUE(shapes[1].at("pulls").as_array().empty()) << shapes[1];
}

// The page's data as its script decodes it (timeline_page.html): META, and each span's lane,
// image, start, wait, duration and outcome (0 pulling, 1 pulled, 2 failed, 3 never started), with
// how long before the range a pull under way at its start began.
struct PageData {
  boost::json::object meta;
  struct Span {
    std::string node, image;
    int64_t start, wait, dur, early = 0;
    int outcome;
  };
  std::vector<Span> spans;
};

PageData Decode(const std::string& html) {
  PageData d;
  std::smatch m;
  EXPECT_TRUE(
      std::regex_search(html, m, std::regex("const META = (.*);\nconst BLOB = \"([^\"]*)\"")));
  d.meta = boost::json::parse(m[1].str()).as_object();
  std::string bytes;
  const std::string k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  uint32_t acc = 0;
  int bits = 0;
  for (char c : m[2].str()) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(k.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  size_t pos = 0;
  auto next = [&]() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      uint8_t b = static_cast<uint8_t>(bytes.at(pos++));
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return static_cast<int64_t>(v);
    }
  };
  const boost::json::array& nodes = d.meta.at("nodes").as_array();
  const boost::json::array& images = d.meta.at("images").as_array();
  int64_t t = 0;
  for (int64_t i = 0, n = next(); i < n; ++i) {
    PageData::Span s;
    s.node = nodes.at(next()).as_string();
    s.image = images.at(next()).as_string();
    next();  // policy
    t += next();
    s.start = t;
    s.wait = next();
    s.dur = next();
    s.outcome = static_cast<int>(next() & 3);
    d.spans.push_back(s);
  }
  for (int64_t p = 0, n = next(); p < n; ++p) {  // the policies' lines
    for (int64_t k2 = 0, points = next(); k2 < points; ++k2) {
      for (int f = 0; f < 4; ++f)
        next();
    }
  }
  for (int64_t i = 0, n = next(); i < n; ++i) {  // the images' holds
    for (int64_t h = 0, holds = next(); h < holds; ++h) {
      for (int f = 0; f < 3; ++f)
        next();
    }
  }
  size_t at = 0;
  for (int64_t i = 0, n = next(); i < n; ++i) {
    at += static_cast<size_t>(next());
    d.spans.at(at).early = next();
  }
  EXPECT_EQ(pos, bytes.size()) << "the page reads every byte";
  return d;
}

// The nodes that want an image and had no pull of it started by the end get a wait of their own:
// in the demo, every cpu node waits on broken (those whose pull failed, since that failure), and
// none waits on base or ml-runtime, which every targeted node holds.
TEST(Timeline, NodesStillWaitingAtTheEndHaveAWaitOfTheirOwn) {
  const std::vector<v1::Entry> journal = testing::DemoJournal();
  TempDir dir;
  Result<History> h = HistoryOf(journal, dir);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::map<std::string, int64_t> broken;  // node -> waiting since
  for (const WaitingRecord& w : h->waiting) {
    EXPECT_EQ(h->images[w.image], "broken") << h->nodes[w.node];
    EXPECT_EQ(h->policies[w.policy], "gentle");
    broken[h->nodes[w.node]] = w.since_ms;
  }
  EXPECT_EQ(broken.size(), 20u);
  for (const auto& [node, since] : broken)
    EXPECT_TRUE(node.starts_with("cpu-")) << node;
  int failed = 0;
  for (const PullRecord& p : h->pulls) {
    if (h->images[p.image] != "broken" || p.end_ms == 0) continue;
    ++failed;
    EXPECT_GE(broken[h->nodes[p.node]], p.end_ms) << h->nodes[p.node] << " waits from its failure";
  }
  EXPECT_GT(failed, 0);
  testing::Run t = Replay(dir / "j", {"timeline", "-o", dir / "t.html"});
  EXPECT_NE(t.err.find(", 20 waits not started by the end, "), std::string::npos) << t.err;
  int never = 0;
  for (const PageData::Span& span : Decode(testing::ReadFile(dir / "t.html")).spans) {
    if (span.outcome != 3) continue;
    ++never;
    EXPECT_EQ(span.image, "broken");
    EXPECT_EQ(span.dur, 0);
    EXPECT_EQ(span.wait, span.start - (broken[span.node] - h->from_ms)) << span.node;
  }
  EXPECT_EQ(never, 20);
}

// A range that starts while pulls are under way draws them from its start, and tells their real
// start and duration: cpu-14's base pull started at 08:01:00 and took 4 s, gpu-late's 12 s.
TEST(Timeline, APullUnderWayAtTheRangesStartKeepsItsStartAndDuration) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const int64_t t0 = (*reader)->origin().time_ms;
  testing::Run r =
      Replay(dir / "j", {"timeline", "--since", "+62s", "--until", "+90s", "-o", dir / "t.html"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  PageData page = Decode(testing::ReadFile(dir / "t.html"));
  const int64_t from = page.meta.at("t0").as_int64();
  EXPECT_EQ(from, t0 + 62'000);
  EXPECT_FALSE(page.meta.at("toEnd").as_bool());
  int checked = 0;
  for (const PageData::Span& s : page.spans) {
    if (s.early == 0) continue;
    EXPECT_EQ(s.start, 0) << s.node << ": drawn from the range's start";
    EXPECT_EQ(s.wait, 0) << s.node;
    if (s.node == "cpu-14" && s.image == "base") {
      EXPECT_EQ(from + s.start - s.early, t0 + 60'000) << "started at +60s";
      EXPECT_EQ(s.dur + s.early, 4'000) << "took 4 s";
      ++checked;
    }
    if (s.node == "gpu-late" && s.image == "ml-runtime") {
      EXPECT_EQ(s.dur + s.early, 12'000) << "took 12 s";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 2) << r.err;
}

// An image's own hold lasts until its backoff's end, or the next decision about the image: another
// hold, a start, or a pass that finds it next in line behind the policy's limits.
TEST(Timeline, AnImagesHoldEndsAtItsBackoffsEndOrTheNextDecisionAboutIt) {
  History h;
  const int a = h.images.Id("a");
  h.policies.Id("p");
  auto pass = [&](int64_t at) -> PassRecord& {
    PassRecord p;
    p.policy = 0;
    p.time_ms = at;
    h.passes.push_back(p);
    return h.passes.back();
  };
  pass(100).held.push_back({a, v1::WAIT_BACKOFF, 1, 500});
  pass(200).held.push_back({a, v1::NO_ELIGIBLE_NODE, 2, 0});
  PassRecord& next_in_line = pass(300);
  next_in_line.blocking = v1::WAIT_CONCURRENCY;
  next_in_line.next_image = a;
  pass(400).held.push_back({a, v1::WAIT_BACKOFF, 4, 0});  // a failing image's one pull at a time
  pass(450).started.push_back({a, 0, 5});
  pass(600).held.push_back({a, v1::WAIT_BACKOFF, 6, 700});
  // 3: a backoff's delay; 5: one node at a time while a pull fails (no end of its own).
  const std::vector<Hold> want = {{100, 200, 3}, {200, 300, 4}, {400, 450, 5}, {600, 700, 3}};
  EXPECT_EQ(Holds(h, 1000)[a], want);
}

// A range that starts after pulls succeeded takes them from the state there (pulled_nodes): in
// the demo from +300 s, only broken's nodes wait, though base's pulls ended before the range.
TEST(Timeline, ARangeThatStartsAfterPullsEndedKnowsTheirNodesHoldTheImage) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Reader& r = **reader;
  Result<Point> from = r.Resolve("+300s", "--since");
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  Result<History> h = History::Scan(r, *from, r.last(), HistoryOptions{});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_FALSE(h->waiting.empty());
  for (const WaitingRecord& w : h->waiting)
    EXPECT_EQ(h->images[w.image], "broken") << h->nodes[w.node] << " waits";
}

// A range that starts mid-rollout knows from the state there how each policy and image stood:
// gentle's line starts at its limit with the core's count and verdict, though no pass of the
// range repeats them, and broken's own hold runs from the range's start.
TEST(Timeline, ARangeThatStartsMidRolloutKnowsTheLimitsAndHoldsOfItsStart) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Reader& r = **reader;
  Result<Point> from = r.Resolve("+11s", "--since");
  ASSERT_TRUE(from.ok()) << from.status().ToString();
  Result<v1::State> state = r.StateAt(*from);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  Result<History> h = History::Scan(r, *from, r.last(), HistoryOptions{});
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const int gentle = h->policies.Find("gentle");
  ASSERT_GE(gentle, 0);
  const int active = CountActive(*state, "gentle");
  ASSERT_EQ(active, 5) << "the demo's five ml-runtime pulls run at +11s";
  std::vector<std::vector<ActivePoint>> lines = ActiveLines(*h);
  ASSERT_FALSE(lines[gentle].empty());
  EXPECT_EQ(lines[gentle].front(), (ActivePoint{from->time_ms, active, 5, v1::WAIT_CONCURRENCY}));
  const v1::Verdict broken_wait = Find(state->images(), "broken")->last_wait().verdict();
  EXPECT_EQ(broken_wait, v1::WAIT_BACKOFF);
  std::vector<std::vector<Hold>> holds = Holds(*h, h->to_ms);
  const std::vector<Hold>& broken = holds[h->images.Find("broken")];
  ASSERT_FALSE(broken.empty());
  EXPECT_EQ(broken.front().from_ms, from->time_ms);
}

// A history skips the entries it keeps nothing of and skims pod creations, pod watch events and
// action results for a few fields; one handed every entry decodes them all whole. Both must keep
// the same pulls, passes, active pulls and waits.
TEST(Timeline, AHistoryThatSkimsTheJournalKeepsWhatOneThatDecodesItWholeDoes) {
  TempDir dir;
  ASSERT_TRUE(testing::WriteJournal(testing::DemoJournal(), dir / "j").ok());
  auto reader = Reader::Open(dir / "j");
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const Reader& r = **reader;
  Result<History> skimmed = History::Scan(r, r.origin(), r.last(), HistoryOptions{});
  HistoryOptions every;
  uint64_t seen = 0;
  every.each = [&](const v1::Entry&) { ++seen; };
  Result<History> whole = History::Scan(r, r.origin(), r.last(), every);
  ASSERT_TRUE(skimmed.ok()) << skimmed.status().ToString();
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(seen, r.last() - r.origin().seq);

  auto pulls = [](const History& h) {
    std::vector<std::string> out;
    for (const PullRecord& p : h.pulls) {
      out.push_back(h.images[p.image] + " " + h.nodes[p.node] + " " + h.policies[p.policy] + " " +
                    p.pod + " " + std::to_string(p.start_seq) + " " + std::to_string(p.start_ms) +
                    " " + std::to_string(p.trigger_seq) + " " + std::to_string(p.wait_from_ms) +
                    " " + std::to_string(p.end_ms) + " " + v1::Outcome_Name(p.outcome) + " " +
                    p.reason);
    }
    return out;
  };
  ASSERT_GT(skimmed->pulls.size(), 30u) << "the demo starts a pull on every node";
  const std::vector<std::string> a = pulls(*skimmed), b = pulls(*whole);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(a[i], b[i]) << "pull " << i;
  EXPECT_EQ(skimmed->passes.size(), whole->passes.size());
  EXPECT_EQ(skimmed->to_ms, whole->to_ms);
  // The pods it follows for the active pulls: watch events and results skimmed, or whole.
  auto changes = [](const History& h) {
    std::string out;
    for (const ActiveChange& c : h.active_changes)
      out += std::to_string(c.seq) + ":" + h.policies[c.policy] + std::to_string(c.delta) + " ";
    return out;
  };
  EXPECT_GT(skimmed->active_changes.size(), 60u);
  EXPECT_EQ(changes(*skimmed), changes(*whole));
  EXPECT_EQ(skimmed->waiting.size(), whole->waiting.size());
  for (const PullRecord& p : skimmed->pulls) {
    ASSERT_FALSE(p.pod.empty());
    EXPECT_EQ(skimmed->policies[p.policy], skimmed->images[p.image] == "base" ? "" : "gentle");
  }
}

// A CachedImage moved to another PullPolicy takes its pulls in flight along (the core counts
// them there): the old policy's line falls at the move, and the pulls lower the new one's when
// they end.
TEST(Timeline, PullsMovedWithTheirCachedImageCountUnderItsNewPolicy) {
  constexpr int64_t kSec = 1000;
  testing::World w;
  for (int i = 0; i < 6; ++i)
    w.PutNode(testing::NodeBuilder("node-" + std::to_string(i)));
  w.PutPolicy(testing::PolicyBuilder("wide", 4));
  w.PutPolicy(testing::PolicyBuilder("narrow", 2));
  w.PutImage(testing::ImageBuilder("moved", "moved:1").Policy("wide"));
  w.SetBehaviour([](const v1::Pod&) { return testing::Pull{testing::Pull::kSucceed, 20 * kSec}; });
  w.Start();
  w.RunFor(kSec);
  const int64_t moved_at = w.now();
  w.PutImage(testing::ImageBuilder("moved", "moved:1").Policy("narrow"));
  w.RunFor(120 * kSec);
  TempDir dir;
  Result<History> h = HistoryOf(w.journal(), dir);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->pulls.size(), 6u);
  for (size_t i = 0; i < h->pulls.size(); ++i) {
    const PullRecord& p = h->pulls[i];
    EXPECT_GT(p.end_ms, 0) << p.pod;
    // The first four started under wide; the last two started under narrow.
    EXPECT_EQ(h->policies[p.policy], i < 4 ? "wide" : "narrow") << p.pod;
  }

  std::vector<std::vector<ActivePoint>> lines = ActiveLines(*h);
  auto text = [](const std::vector<ActivePoint>& line) {
    std::string s;
    for (const ActivePoint& p : line)
      s += std::to_string(p.time_ms) + ":" + std::to_string(p.active) + "/" +
           std::to_string(p.limit) + " ";
    return s;
  };
  const std::vector<ActivePoint>& wide = lines[h->policies.Find("wide")];
  const std::vector<ActivePoint>& narrow = lines[h->policies.Find("narrow")];
  ASSERT_FALSE(wide.empty());
  ASSERT_FALSE(narrow.empty());
  EXPECT_EQ(wide.front().active, 4) << "the first pass's four, in its millisecond: " << text(wide);
  EXPECT_EQ(wide.back().active, 0) << text(wide);
  EXPECT_EQ(wide.back().time_ms, moved_at)
      << "wide counts none of them from the move on: " << text(wide);
  EXPECT_EQ(narrow.back().active, 0) << text(narrow);
  for (const ActivePoint& p : narrow) {
    EXPECT_LE(p.active, 4) << text(narrow);
    if (p.time_ms > moved_at && p.time_ms < moved_at + 19 * kSec) {
      EXPECT_EQ(p.active, 4) << "the four moved pulls run on under narrow: " << text(narrow);
    }
  }
}

// A policy's line follows its pods' changes in journal order, down and up, moves included; a pass
// sets it to the core's own count; a change a relist dated before the point before it does not
// take the line back in time, and of several points in one millisecond the last stands.
TEST(Timeline, APolicysLineFollowsItsPodsAndEachPassesCount) {
  History h;
  const int a = h.policies.Id("a"), b = h.policies.Id("b");
  h.active_from = {1, 0};
  auto pass = [&](int policy, uint64_t seq, int64_t at, int active, int limit) {
    PassRecord p;
    p.policy = policy;
    p.reconcile_id = seq;
    p.time_ms = at;
    p.active_before = p.active_after = active;
    p.limit = limit;
    h.passes.push_back(p);
  };
  pass(a, 10, 100, 1, 3);
  pass(b, 12, 100, 0, 2);
  h.active_changes = {{11, 100, a, +1},  // the pass's pod, created after it
                      {20, 200, a, -1},  // moves to b
                      {20, 200, b, +1}, {25, 220, b, +1},
                      {30, 150, b, -1},  // found ended by a relist, earlier than the move
                      {31, 300, a, -1}};
  pass(a, 40, 400, 1, 3);  // a sweep the history did not follow: the core counts one
  std::vector<std::vector<ActivePoint>> lines = ActiveLines(h);
  auto text = [](const std::vector<ActivePoint>& line) {
    std::string s;
    for (const ActivePoint& p : line)
      s += std::to_string(p.time_ms) + ":" + std::to_string(p.active) + " ";
    return s;
  };
  EXPECT_EQ(text(lines[a]), "0:1 100:2 200:1 300:0 400:1 ");
  // Of 220:2 and the end dated 150 after it, one point: 220:1, the same as before it.
  EXPECT_EQ(text(lines[b]), "100:0 200:1 ");
}

// The active pulls the history follows from the pods are the core's own count: at every pacing
// pass they equal the count the pass recorded, and at the end the state's.
TEST(Timeline, TheActivePullsTheHistoryFollowsAreTheCoresAtEveryPass) {
  for (uint64_t seed : {1, 2, 3, 4}) {
    testing::RandomWorld random(seed);
    for (int i = 0; i < 400; ++i)
      random.Step();
    TempDir dir;
    Result<History> h = HistoryOf(random.world.journal(), dir);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    std::vector<int64_t> count(h->active_from.begin(), h->active_from.end());
    size_t c = 0, checked = 0;
    auto changes_before = [&](uint64_t seq) {
      for (; c < h->active_changes.size() && h->active_changes[c].seq < seq; ++c)
        count[h->active_changes[c].policy] += h->active_changes[c].delta;
    };
    for (const PassRecord& p : h->passes) {
      changes_before(p.reconcile_id);
      if (p.active_before < 0) continue;
      EXPECT_EQ(count[p.policy], p.active_before)
          << "seed " << seed << ", pass " << p.reconcile_id << " of " << h->policies[p.policy];
      ++checked;
    }
    changes_before(~uint64_t{0});
    EXPECT_GT(checked, 50u) << "seed " << seed;
    for (int policy = 0; policy < h->policies.size(); ++policy) {
      EXPECT_EQ(count[policy], CountActive(random.world.state(), h->policies[policy]))
          << "seed " << seed << ", at the end, " << h->policies[policy];
    }
  }
}

// The faults the core's fold follows and the history's skims must too (RandomWorld::Fault): an
// operator restart whose relist sweeps a pod that went unseen, a pod replaced under its name, a
// create whose answer was lost although the pod exists, and CachedImages deleted and made again.
TEST(Timeline, TheActivePullsTheHistoryFollowsAreTheFoldsAfterEveryEntryThroughFaults) {
  for (uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    testing::RandomWorld random(seed);
    random.faults = true;
    for (int i = 0; i < 400; ++i)
      random.Step();
    ASSERT_GT(random.faults_injected, 40) << "seed " << seed;
    TempDir dir;
    const std::vector<v1::Entry>& journal = random.world.journal();
    Result<History> h = HistoryOf(journal, dir);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    std::map<std::string, int64_t> followed;
    for (int p = 0; p < h->policies.size(); ++p)
      followed[h->policies[p]] = h->active_from[p];
    size_t c = 0;
    v1::State state = InitialState();
    int differed = 0;
    for (const v1::Entry& e : journal) {
      Apply(e, &state);
      for (; c < h->active_changes.size() && h->active_changes[c].seq <= e.seq(); ++c)
        followed[h->policies[h->active_changes[c].policy]] += h->active_changes[c].delta;
      std::map<std::string, int64_t> folded;
      for (const auto& [policy, n] : followed)
        folded[policy] = 0;
      for (const v1::PodRecord& p : AllPods(state))
        folded[p.policy()] += IsActive(p);
      if (folded != followed && ++differed <= 3) {
        std::string counts;
        for (const auto& [policy, n] : folded)
          counts +=
              " " + policy + ": " + std::to_string(n) + " vs " + std::to_string(followed[policy]);
        ADD_FAILURE() << "seed " << seed << ", after " << e.ShortDebugString().substr(0, 300)
                      << "; folded vs followed:" << counts;
      }
    }
    EXPECT_EQ(differed, 0) << "seed " << seed;
  }
}

}  // namespace
}  // namespace drop::replay
