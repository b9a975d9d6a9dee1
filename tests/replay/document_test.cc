// Documents as drop-replay prints them with -o yaml: read back, every string is still a string.
#include "replay/document.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <sstream>

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

}  // namespace
}  // namespace drop::replay
