// Documents as drop-replay prints them with -o yaml: read back, every string is still a string.
#include "replay/document.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

#include "core/utf8.h"
#include "replay/describe.h"

namespace drop::replay {
namespace {

TEST(Yaml, AStringAReaderWouldTakeForAnotherTypeIsQuoted) {
  const char* quoted[] = {"False", "True", "yes",  "NO",       "off",
                          "On",    "~",    "NULL", "",         "10",
                          "1e3",   "-.5",  ".inf", "10:02:13", "2026-11-26T23:19:50.938Z",
                          "0x1f"};
  const char* plain[] = {"cpu-0", "Pulling", "falsehood", "ml-runtime", "v1.2", "gpu-7"};
  boost::json::object doc;
  for (const char* s : quoted)
    doc[std::string("q") + s] = s;
  for (const char* s : plain)
    doc[std::string("p") + s] = s;
  std::ostringstream out;
  PrintYaml(doc, out);
  for (const char* s : quoted) {
    EXPECT_NE(out.str().find(std::string("q") + s + ": \"" + s + "\""), std::string::npos)
        << s << " is not quoted:\n"
        << out.str();
  }
  for (const char* s : plain) {
    EXPECT_NE(out.str().find(std::string("p") + s + ": " + s + "\n"), std::string::npos)
        << s << " is quoted, or missing:\n"
        << out.str();
  }
  // And yaml-cpp reads each back as the string it was.
  YAML::Node back = YAML::Load(out.str());
  for (const char* s : quoted)
    EXPECT_EQ(back[std::string("q") + s].as<std::string>(), s);
}

// An empty map or list stays on its key's line, as kubectl prints it: "spec: {}", "pods: []".
TEST(Yaml, AnEmptyMapOrListIsWrittenOnItsKeysLine) {
  boost::json::object doc;
  doc["spec"] = boost::json::object();
  doc["pods"] = boost::json::array();
  doc["status"] = boost::json::object{{"phase", "Ready"}, {"failedNodes", boost::json::array()}};
  std::ostringstream out;
  PrintYaml(doc, out);
  EXPECT_EQ(out.str(), "spec: {}\npods: []\nstatus:\n  phase: Ready\n  failedNodes: []\n");
  YAML::Node back = YAML::Load(out.str());
  EXPECT_TRUE(back["spec"].IsMap());
  EXPECT_EQ(back["pods"].size(), 0u);
}

// One of a thing is said in the singular: "1 taint", not "1 taints".
TEST(Summary, CountsOfOneAreSingular) {
  v1::Entry node;
  v1::Node* n = node.mutable_watch()->mutable_node();
  n->set_name("gpu-0");
  n->set_ready(true);
  n->add_taints()->set_key("gpu");
  n->add_image_hashes(1);
  EXPECT_EQ(Summary(node), "UNKNOWN node/gpu-0 Ready, 1 taint, 1 image");
  n->add_taints()->set_key("spot");
  n->add_image_hashes(2);
  EXPECT_EQ(Summary(node), "UNKNOWN node/gpu-0 Ready, 2 taints, 2 images");

  v1::Entry pacing;
  v1::PacingDecision* d = pacing.mutable_pacing();
  d->set_verdict(v1::WAIT_BACKOFF);
  d->set_cached_image("broken");
  d->set_policy("gentle");
  d->set_consecutive_failures(1);
  EXPECT_TRUE(Summary(pacing).ends_with(", 1 consecutive failure")) << Summary(pacing);
  d->set_consecutive_failures(2);
  EXPECT_TRUE(Summary(pacing).ends_with(", 2 consecutive failures")) << Summary(pacing);

  v1::Entry discovery;
  discovery.mutable_discovery()->set_policy("registry");
  discovery.mutable_discovery()->add_sources();
  EXPECT_EQ(Summary(discovery), "discovery of registry: 1 source");
}

// A decision to wait on a pull in flight is about that pull's pod too.
TEST(ObjectsOf, APacingDecisionNamesThePodItWaitsOn) {
  v1::Entry e;
  v1::PacingDecision* d = e.mutable_pacing();
  d->set_verdict(v1::WAIT_BACKOFF);
  d->set_cached_image("broken");
  d->set_policy("gentle");
  d->set_in_flight_pod("drop-broken-1");
  std::vector<std::string> objects = ObjectsOf(e);
  EXPECT_NE(std::find(objects.begin(), objects.end(), "pod/drop-broken-1"), objects.end())
      << ::testing::PrintToString(objects);
}

// A status write is about the nodes its status lists: those that hold the image (where the entry
// carries the list) and those that failed, each once.
TEST(ObjectsOf, AStatusWriteNamesTheNodesItsStatusLists) {
  v1::Entry e;
  v1::PatchStatus* p = e.mutable_action()->mutable_patch_status();
  p->set_cached_image("web");
  p->mutable_status()->add_cached_nodes("cpu-0");
  p->mutable_status()->add_cached_nodes("cpu-1");
  p->mutable_status()->add_failed_nodes()->set_node("cpu-1");
  p->mutable_status()->add_failed_nodes()->set_node("cpu-10");
  EXPECT_EQ(ObjectsOf(e), (std::vector<std::string>{"cachedimage/web", "node/cpu-0", "node/cpu-1",
                                                    "node/cpu-10"}));
}

// Text that is not UTF-8 comes out as UTF-8 in both forms, each bad byte a U+FFFD, key or value.
TEST(Yaml, TextThatIsNotUtf8IsPrintedWithReplacementCharacters) {
  boost::json::object doc;
  doc["message"] = "cut short \xE2\x9C";
  doc["node-\xFF"] = "caf\xC3\xA9";
  for (Format f : {Format::kJson, Format::kYaml}) {
    std::ostringstream out;
    Print(doc, f, out);
    EXPECT_TRUE(IsUtf8(out.str())) << out.str();
    EXPECT_NE(out.str().find("cut short \xEF\xBF\xBD\xEF\xBF\xBD"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("node-\xEF\xBF\xBD"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("caf\xC3\xA9"), std::string::npos) << out.str();
  }
}

// Text is declared bytes in the schema, which protobuf's JSON mapping writes in base64: a document
// gives it as the text it is, in every kind of place (a field, a list, a nested message), and an
// entry whose text is not UTF-8, which JSON cannot carry, in protobuf's text form.
TEST(EntryDocument, TextIsItselfAndTextThatIsNotUtf8IsNamed) {
  v1::Entry watch;
  v1::Node* node = watch.mutable_watch()->mutable_node();
  node->set_name("gpu-7");
  v1::Label* label = node->add_labels();
  label->set_key("pool");
  label->set_value("gpu");
  boost::json::object doc = EntryDocument(watch);
  const boost::json::object& n = doc.at("watch").at("node").as_object();
  EXPECT_EQ(n.at("name"), "gpu-7") << boost::json::serialize(doc);
  EXPECT_EQ(n.at("labels").at(0).at("key"), "pool");
  EXPECT_EQ(n.at("labels").at(0).at("value"), "gpu");
  EXPECT_EQ(n.at("uid"), "") << "a text left out for its default is shown empty";

  v1::Entry event;
  event.set_seq(7);
  v1::EmitEvent* e = event.mutable_action()->mutable_emit_event();
  e->set_message("pulled in 1.2s \u00b7 caf\u00e9 \u2713");
  doc = EntryDocument(event);
  EXPECT_EQ(doc.at("action").at("emitEvent").at("message"),
            "pulled in 1.2s \u00b7 caf\u00e9 \u2713")
      << boost::json::serialize(doc);
  EXPECT_FALSE(doc.contains("unprintable"));

  e->set_message("cut short \xe2\x9c");
  doc = EntryDocument(event);
  EXPECT_EQ(doc.at("seq"), 7);
  EXPECT_EQ(doc.at("unprintable"), "a text field is not UTF-8");
  EXPECT_NE(doc.at("text").as_string().find("cut short"), std::string_view::npos);
}

}  // namespace
}  // namespace drop::replay
