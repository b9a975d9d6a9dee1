// Value types of the core: durations, times, image references, drop pod names, UTF-8 text.
#include <gtest/gtest.h>

#include "core/drop_pod.h"
#include "core/duration.h"
#include "core/image_ref.h"
#include "core/utf8.h"
#include "tests/support/builders.h"

namespace drop {
namespace {

// Well-formed UTF-8 passes as it is; anything else has each byte that begins no character replaced
// by U+FFFD: a stray continuation byte, a character cut short (as a text cut at a byte count is),
// an overlong form, a surrogate, a code point past U+10FFFF, a byte UTF-8 never uses.
TEST(Utf8, WellFormedTextPassesAndEveryBadByteBecomesAReplacementCharacter) {
  for (std::string_view good : std::initializer_list<std::string_view>{
           "", "cpu-0", "caf\xC3\xA9", "\xE2\x9C\x93 done", "\xF0\x9F\x90\xB3", "\xED\x9F\xBF",
           "\xF4\x8F\xBF\xBF", std::string_view("a\0b", 3)}) {
    EXPECT_TRUE(IsUtf8(good)) << good;
    EXPECT_EQ(ToUtf8(good), good);
  }
  const std::string r = "\xEF\xBF\xBD";
  const std::pair<std::string_view, std::string> bad[] = {
      {"\x80", r},                          // a continuation byte alone
      {"ok \xE2\x9C", "ok " + r + r},       // cut short
      {"\xC0\xAF", r + r},                  // an overlong '/'
      {"\xE0\x80\xAF", r + r + r},          // an overlong '/' in three bytes
      {"\xED\xA0\x80", r + r + r},          // a surrogate
      {"\xF4\x90\x80\x80", r + r + r + r},  // past U+10FFFF
      {"\xFF and \xC3\xA9", r + " and \xC3\xA9"},
  };
  for (const auto& [text, fixed] : bad) {
    EXPECT_FALSE(IsUtf8(text)) << text;
    EXPECT_EQ(ToUtf8(text), fixed) << text;
    EXPECT_TRUE(IsUtf8(ToUtf8(text)));
  }
}

TEST(Duration, ParsesGoForms) {
  EXPECT_EQ(*ParseDuration("90s"), 90'000);
  EXPECT_EQ(*ParseDuration("10m"), 600'000);
  EXPECT_EQ(*ParseDuration("1h30m"), 5'400'000);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500);
  EXPECT_EQ(*ParseDuration("250ms"), 250);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("-2s"), -2000);
  EXPECT_EQ(*ParseDuration("1h0m0s"), 3'600'000);
}

TEST(Duration, SaysWhenItCutsBelowAMillisecond) {
  bool truncated = true;
  EXPECT_EQ(*ParseDuration("1.5s", &truncated), 1500);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(*ParseDuration("0.001s", &truncated), 1);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(*ParseDuration("500us", &truncated), 0);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(*ParseDuration("1ms1ns", &truncated), 1);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(*ParseDuration("2000000ns", &truncated), 2);
  EXPECT_FALSE(truncated);
}

TEST(Duration, RejectsWithAMessageThatShowsTheForm) {
  for (const char* bad : {"", "10", "ten seconds", "5d", "1.5.s", "s"}) {
    Result<int64_t> d = ParseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("e.g. \"90s\""), std::string::npos) << d.status().message();
  }
}

TEST(Duration, FormatsLikeGo) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(250), "250ms");
  EXPECT_EQ(FormatDuration(1500), "1.5s");
  EXPECT_EQ(FormatDuration(600'000), "10m0s");
  EXPECT_EQ(FormatDuration(5'400'000), "1h30m0s");
}

TEST(Time, RoundTripsRfc3339) {
  Result<int64_t> t = ParseTime("2026-11-25T10:42:46Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, 1'795'603'366'000);
  EXPECT_EQ(FormatTime(*t), "2026-11-25T10:42:46Z");
  EXPECT_EQ(FormatTimeMillis(*t + 5), "2026-11-25T10:42:46.005Z");
  EXPECT_EQ(*ParseTime("2026-11-25T11:42:46.250+01:00"), *t + 250);
  EXPECT_FALSE(ParseTime("yesterday").ok());
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z").ok());
}

// timegm would carry November 31st into December 1st: a mistyped date names another moment.
TEST(Time, RefusesADayPastTheEndOfItsMonth) {
  for (const char* bad : {"2026-11-31T16:33:00Z", "2026-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
                          "2026-04-31T00:00:00Z", "2026-01-32T00:00:00Z"}) {
    Result<int64_t> t = ParseTime(bad);
    ASSERT_FALSE(t.ok()) << bad << " read as " << FormatTime(*t);
    EXPECT_NE(t.status().message().find("is past the end of " + std::string(bad, 7)),
              std::string::npos)
        << t.status().message();
  }
  EXPECT_EQ(ParseTime("2026-11-31T16:33:00Z").status().message(),
            "invalid time \"2026-11-31T16:33:00Z\": day 31 is past the end of 2026-11, which has "
            "30 days");
  // Leap years: every fourth, but not a century unless it is a fourth one.
  EXPECT_EQ(*ParseTime("2028-02-29T00:00:00Z") + 24 * kHour, *ParseTime("2028-03-01T00:00:00Z"));
  EXPECT_TRUE(ParseTime("2000-02-29T00:00:00Z").ok());
  EXPECT_TRUE(ParseTime("2026-11-30T23:59:59Z").ok());
  EXPECT_TRUE(ParseTime("2026-12-31T23:59:59Z").ok());
}

TEST(Time, RefusesAnOffsetBeyondTwentyThreeHoursFiftyNine) {
  for (const char* bad : {"2026-11-27T16:33:00+00:99", "2026-11-27T16:33:00+25:00",
                          "2026-11-27T16:33:00-24:00", "2026-11-27T16:33:00+00:60"}) {
    Result<int64_t> t = ParseTime(bad);
    ASSERT_FALSE(t.ok()) << bad << " read as " << FormatTime(*t);
    EXPECT_NE(t.status().message().find("the UTC offset " + std::string(bad).substr(19) +
                                        " is out of range"),
              std::string::npos)
        << t.status().message();
  }
  EXPECT_EQ(*ParseTime("2026-11-28T16:32:00+23:59"), *ParseTime("2026-11-27T16:33:00Z"));
  EXPECT_EQ(*ParseTime("2026-11-26T16:34:00-23:59"), *ParseTime("2026-11-27T16:33:00Z"));
}

TEST(ImageRef, NormalizesLikeContainerRuntimes) {
  EXPECT_EQ(ParseImageRef("nginx")->Normalized(), "docker.io/library/nginx:latest");
  EXPECT_EQ(ParseImageRef("nginx:1.25")->MatchKey(), "docker.io/library/nginx:1.25");
  EXPECT_EQ(ParseImageRef("team/app:2")->MatchKey(), "docker.io/team/app:2");
  EXPECT_EQ(ParseImageRef("registry.example.com/team/app:1.4.2")->MatchKey(),
            "registry.example.com/team/app:1.4.2");
  EXPECT_EQ(ParseImageRef("localhost:5000/app")->MatchKey(), "localhost:5000/app:latest");
  std::string digest = "sha256:" + std::string(64, 'a');
  EXPECT_EQ(ParseImageRef("quay.io/x/y:1@" + digest)->MatchKey(), "quay.io/x/y@" + digest);
  EXPECT_EQ(ImageMatchHash("nginx:1.25"), ImageMatchHash("docker.io/library/nginx:1.25"));
  EXPECT_NE(ImageMatchHash("nginx:1.25"), ImageMatchHash("nginx:1.26"));
}

TEST(ImageRef, RejectsInvalidReferencesNamingThePart) {
  struct Case {
    std::string ref;
    const char* names;
  } cases[] = {
      {"", "empty"},
      {"Team/App:1", "repository part"},
      {"app:-bad", "tag"},
      {"app@sha256:abc", "digest"},
      // The grammar allows them; the kubelet answers InvalidImageName on every node.
      {"app@md5:" + std::string(32, 'a'), "digest"},
      {"app@sha256:" + std::string(64, 'A'), "lowercase hex"},
      {"registry.example.com/", "empty"},
      {"a//b", "repository part"},
  };
  for (const Case& c : cases) {
    Result<ImageRef> r = ParseImageRef(c.ref);
    ASSERT_FALSE(r.ok()) << c.ref;
    EXPECT_NE(r.status().message().find(c.names), std::string::npos) << r.status().message();
  }
}

TEST(DropPod, NameIsAFunctionOfImageNodeAndGeneration) {
  std::string a = DropPodName("web", "gpu-1", 3);
  EXPECT_EQ(a, DropPodName("web", "gpu-1", 3));
  EXPECT_NE(a, DropPodName("web", "gpu-2", 3));
  EXPECT_NE(a, DropPodName("web", "gpu-1", 4));
  EXPECT_EQ(a.rfind("drop-web-", 0), 0u);
  EXPECT_EQ(a.size(), std::string("drop-web-").size() + 10);
}

TEST(DropPod, CarriesLabelsTolerationsSecretsAndHardening) {
  v1::OperatorConfig config;
  config.set_namespace_("drop-system");
  config.set_init_image("registry.local/drop:1");
  v1::CachedImage image = testing::ImageBuilder("web", "registry.example.com/web:1")
                              .Tolerate("gpu", "Equal", "true", "NoSchedule")
                              .Secret("regcred");
  v1::PullPolicySpec policy;
  policy.set_image_pull_policy("Always");
  v1::DropPodSpec pod = MakeDropPod(config, image, policy, "gpu-7");
  EXPECT_EQ(pod.namespace_(), "drop-system");
  EXPECT_EQ(pod.node(), "gpu-7");
  ASSERT_EQ(pod.labels_size(), 3);
  EXPECT_EQ(pod.labels(0).key(), "app.kubernetes.io/managed-by");
  EXPECT_EQ(pod.labels(0).value(), "drop");
  EXPECT_EQ(pod.labels(1).key(), "drop.io/cachedimage");
  EXPECT_EQ(pod.labels(1).value(), "web");
  EXPECT_EQ(pod.labels(2).key(), "drop.io/node");
  EXPECT_EQ(pod.labels(2).value(), "gpu-7");
  EXPECT_EQ(pod.tolerations_size(), 1);
  EXPECT_EQ(pod.image_pull_secrets(0), "regcred");
  EXPECT_EQ(pod.image_pull_policy(), "Always");
  EXPECT_EQ(pod.image(), "registry.example.com/web:1");
  EXPECT_EQ(pod.init_image(), "registry.local/drop:1");
  EXPECT_EQ(pod.cached_image_uid(), "uid-web");
  EXPECT_EQ(pod.run_as_user(), 65532);
}

TEST(DropPod, LongNodeNamesBecomeValidLabelValues) {
  std::string node(100, 'n');
  std::string value = LabelValue(node);
  EXPECT_LE(value.size(), 63u);
  EXPECT_NE(value, LabelValue(std::string(101, 'n')));
  EXPECT_EQ(LabelValue("gpu-7"), "gpu-7");
  EXPECT_EQ(LabelValue("a.b_c-d"), "a.b_c-d");
}

}  // namespace
}  // namespace drop
