// JsonSelection and SelectiveParser: only the selected members are built, and what is built is
// exactly what Boost.JSON's own parser builds for them, however the input is cut.
#include "k8s/json_select.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>

#include "k8s/client.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;

JsonSelection Select(const char* text) {
  Result<JsonSelection> s = JsonSelection::Parse(text);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : JsonSelection();
}

// Parses `text` fed `cut` bytes at a time (0: all at once).
json::value ParseSelected(const JsonSelection* selection, const std::string& text, size_t cut = 0) {
  SelectiveParser parser(selection);
  json::monotonic_resource arena;
  parser.reset(&arena);
  size_t pos = 0;
  while (pos < text.size() && !parser.done()) {
    size_t n = cut == 0 ? text.size() - pos : std::min(cut, text.size() - pos);
    json::error_code ec;
    pos += parser.write_some(text.data() + pos, n, ec);
    EXPECT_FALSE(ec) << ec.message() << " at " << pos;
    if (ec) return nullptr;
  }
  EXPECT_TRUE(parser.done());
  return json::value(parser.release(), {});  // a copy that owns its memory
}

// Every kind of value, in and out of the selection, with escapes in keys and strings.
const std::string kDocument = R"({
  "kind": "Pod",
  "metadata": {"name": "a\"b", "uid": "u-1", "managedFields": [{"manager": "x", "fieldsV1":
      {"f:metadata": {"f:labels": {".": {}}}}, "n": [1, -2, 3.5e3, 18446744073709551615]}],
      "labels": {"k\u00e9y": "v\\w", "drop.io/node": "n1"}, "generation": 7},
  "spec": {"nodeName": "", "containers": [{"name": "image", "image": "r/a:1", "args": ["x"]},
      {"name": "side", "image": "r/b:2", "ports": [{"containerPort": 80}]}],
      "volumes": [{"name": "v", "emptyDir": {}}], "priority": null, "hostNetwork": false},
  "status": {"phase": "Pending", "big": 18446744073709551615, "ratio": 0.25, "ok": true,
      "gone": null, "conditions": []}
})";

TEST(JsonSelection, SelectsMembersOfMembersAndOfEachArrayElement) {
  JsonSelection s = Select("metadata{name labels{drop.io/node}} spec{containers{image}}");
  EXPECT_FALSE(s.all());
  ASSERT_NE(s.Member("metadata"), nullptr);
  EXPECT_EQ(s.Member("status"), nullptr);
  const JsonSelection* labels = s.Member("metadata")->Member("labels");
  ASSERT_NE(labels, nullptr);
  EXPECT_NE(labels->Member("drop.io/node"), nullptr);
  EXPECT_TRUE(labels->Member("drop.io/node")->all());
  EXPECT_EQ(labels->Member("app"), nullptr);
  EXPECT_TRUE(JsonSelection().all());
  EXPECT_NE(JsonSelection().Member("anything"), nullptr);
}

TEST(JsonSelection, AMalformedSelectionSaysWhatIsWrong) {
  for (const char* bad : {"metadata{name", "metadata}", "{name}", "a{b{c}"}) {
    Result<JsonSelection> s = JsonSelection::Parse(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find(bad), std::string::npos) << s.status().message();
  }
  EXPECT_NE(JsonSelection::Parse("a{b{c}").status().message().find("not closed"),
            std::string::npos);
  EXPECT_NE(JsonSelection::Parse("a}").status().message().find("closes nothing"),
            std::string::npos);
}

TEST(SelectiveParser, BuildsOnlyTheSelectedMembers) {
  JsonSelection s = Select(
      "kind metadata{name labels generation} spec{containers{name image} priority "
      "hostNetwork} status{big ratio ok gone conditions}");
  EXPECT_EQ(ParseSelected(&s, kDocument), json::parse(R"({
    "kind": "Pod",
    "metadata": {"name": "a\"b", "labels": {"k\u00e9y": "v\\w", "drop.io/node": "n1"},
                 "generation": 7},
    "spec": {"containers": [{"name": "image", "image": "r/a:1"}, {"name": "side", "image": "r/b:2"}],
             "priority": null, "hostNetwork": false},
    "status": {"big": 18446744073709551615, "ratio": 0.25, "ok": true, "gone": null,
               "conditions": []}
  })"));
}

TEST(SelectiveParser, AnEmptySelectionKeepsAnEmptyObjectAndNoneKeepsAll) {
  JsonSelection s = Select("metadata{} spec{volumes{}}");
  EXPECT_EQ(ParseSelected(&s, kDocument),
            json::parse(R"({"metadata": {}, "spec": {"volumes": [{}]}})"));
  EXPECT_EQ(ParseSelected(nullptr, kDocument), json::parse(kDocument));
  JsonSelection everything;
  EXPECT_EQ(ParseSelected(&everything, kDocument), json::parse(kDocument));
}

TEST(SelectiveParser, CutAtEveryByteBuildsTheSameValue) {
  // Keys and strings then arrive in parts, escapes included.
  JsonSelection s = Select("metadata{name labels} spec{containers{image}} status");
  json::value whole = ParseSelected(&s, kDocument);
  for (size_t cut = 1; cut < 64; ++cut)
    EXPECT_EQ(ParseSelected(&s, kDocument, cut), whole) << "cut " << cut;
}

TEST(SelectiveParser, WhatIsSkippedMustStillBeJson) {
  JsonSelection s = Select("a");
  for (const char* bad : {R"({"a": 1, "b": [1, 2,]})", R"({"a": 1, "b": {"c" 1}})",
                          R"({"a": 1, "b": "\x"})", "{\"a\": 1, \"b\": \"\xff\"}"}) {
    SelectiveParser parser(&s);
    json::error_code ec;
    parser.write_some(bad, std::strlen(bad), ec);
    EXPECT_TRUE(ec) << bad;
  }
}

TEST(SelectiveParser, ResetStartsAFreshDocument) {
  JsonSelection s = Select("a");
  SelectiveParser parser(&s);
  const std::pair<std::string, std::string> docs[] = {
      {R"({"a": [1, {"x": 2}], "b": {"c": [3]}})", R"({"a": [1, {"x": 2}]})"},
      {R"({"b": {"a": 1}, "a": 2})", R"({"a": 2})"}};
  for (const auto& [doc, want] : docs) {
    parser.reset();
    json::error_code ec;
    parser.write_some(doc.data(), doc.size(), ec);
    ASSERT_FALSE(ec);
    ASSERT_TRUE(parser.done());
    EXPECT_EQ(parser.release(), json::parse(want)) << doc;
  }
}

TEST(ParseObject, WithASelectionTheBodyMustStillBeOneWholeObject) {
  JsonSelection s = Select("items{metadata{name}}");
  RequestInfo info;
  info.verb = "list";
  ApiResult<json::object> ok =
      ParseObject(info, R"({"items": [{"metadata": {"name": "a", "uid": "u"}}], "kind": "L"})", &s);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(json::value(*ok), json::parse(R"({"items": [{"metadata": {"name": "a"}}]})"));
  EXPECT_TRUE(
      ParseObject(info, R"({"items": [)", &s).status().message().find("not a JSON object") !=
      std::string::npos);
  EXPECT_FALSE(ParseObject(info, R"({"items": []} {"x": 1})", &s).ok());
  EXPECT_FALSE(ParseObject(info, R"([1])", &s).ok());
  EXPECT_TRUE(ParseObject(info, "{\"items\": []}\n", &s).ok());
}

}  // namespace
}  // namespace drop::k8s
