#include "replay/document.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <iterator>
#include <string_view>

#include "core/utf8.h"

namespace drop::replay {
namespace {

// Whether a YAML reader would take `s`, unquoted, for something other than a string: YAML 1.1's
// booleans and nulls (PyYAML reads "False" and "off" as booleans) and anything that starts like a
// number, a time or a date ("10", "1e3", "10:02:13", "2026-11-26T23:19:50Z", "-.5"; a uid that
// starts with a digit is quoted too, which costs nothing). So a condition's status reads back as
// the string "False", as it does from kubectl.
bool ReadsAsAnotherType(std::string_view s) {
  static constexpr std::string_view kWords[] = {
      "y",     "Y",     "yes",   "Yes",   "YES",   "n",     "N",    "no",   "No",   "NO",
      "true",  "True",  "TRUE",  "false", "False", "FALSE", "on",   "On",   "ON",   "off",
      "Off",   "OFF",   "null",  "Null",  "NULL",  "~",     ".inf", ".Inf", ".INF", "-.inf",
      "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF", ".nan",  ".NaN", ".NAN"};
  if (s.empty() || std::find(std::begin(kWords), std::end(kWords), s) != std::end(kWords)) {
    return true;
  }
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = s[0] == '+' || s[0] == '-' ? 1 : 0;
  if (i < s.size() && s[i] == '.') ++i;
  return i < s.size() && digit(s[i]);
}

void Emit(YAML::Emitter& e, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::object:
      if (v.get_object().empty()) e << YAML::Flow;  // "spec: {}", as kubectl prints it
      e << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        e << YAML::Key << ToUtf8(kv.key()) << YAML::Value;
        Emit(e, kv.value());
      }
      e << YAML::EndMap;
      return;
    case boost::json::kind::array:
      if (v.get_array().empty()) e << YAML::Flow;  // "activePods: []"
      e << YAML::BeginSeq;
      for (const auto& item : v.get_array())
        Emit(e, item);
      e << YAML::EndSeq;
      return;
    case boost::json::kind::string: {
      std::string s = ToUtf8(v.get_string());
      if (ReadsAsAnotherType(s)) e << YAML::DoubleQuoted;
      e << s;
      return;
    }
    case boost::json::kind::int64:
      e << v.get_int64();
      return;
    case boost::json::kind::uint64:
      e << v.get_uint64();
      return;
    case boost::json::kind::double_:
      e << v.get_double();
      return;
    case boost::json::kind::bool_:
      e << v.get_bool();
      return;
    case boost::json::kind::null:
      e << YAML::Null;
      return;
  }
}

void Indent(std::ostream& out, int n) {
  for (int i = 0; i < n; ++i)
    out << ' ';
}

void EmitJson(const boost::json::value& v, std::ostream& out, int depth) {
  switch (v.kind()) {
    case boost::json::kind::object: {
      const auto& o = v.get_object();
      if (o.empty()) {
        out << "{}";
        return;
      }
      out << "{\n";
      size_t i = 0;
      for (const auto& kv : o) {
        Indent(out, (depth + 1) * 4);
        out << boost::json::serialize(boost::json::string(ToUtf8(kv.key()))) << ": ";
        EmitJson(kv.value(), out, depth + 1);
        out << (++i < o.size() ? ",\n" : "\n");
      }
      Indent(out, depth * 4);
      out << "}";
      return;
    }
    case boost::json::kind::array: {
      const auto& a = v.get_array();
      if (a.empty()) {
        out << "[]";
        return;
      }
      out << "[\n";
      for (size_t i = 0; i < a.size(); ++i) {
        Indent(out, (depth + 1) * 4);
        EmitJson(a[i], out, depth + 1);
        out << (i + 1 < a.size() ? ",\n" : "\n");
      }
      Indent(out, depth * 4);
      out << "]";
      return;
    }
    case boost::json::kind::string:
      out << boost::json::serialize(boost::json::string(ToUtf8(v.get_string())));
      return;
    default:
      out << boost::json::serialize(v);
  }
}

}  // namespace

Result<Format> ParseFormat(const std::string& text) {
  if (text.empty() || text == "table" || text == "wide") return Format::kTable;
  if (text == "yaml") return Format::kYaml;
  if (text == "json") return Format::kJson;
  return Status::InvalidArgument("--output " + text + ": unknown format; use yaml or json " +
                                 "(or leave it out for a table)");
}

void PrintYaml(const boost::json::value& doc, std::ostream& out) {
  YAML::Emitter e;
  e.SetIndent(2);
  e.SetSeqFormat(YAML::Block);
  Emit(e, doc);
  out << e.c_str() << '\n';
}

void PrintJson(const boost::json::value& doc, std::ostream& out) {
  EmitJson(doc, out, 0);
  out << '\n';
}

void Print(const boost::json::value& doc, Format format, std::ostream& out) {
  if (format == Format::kJson) {
    PrintJson(doc, out);
  } else {
    PrintYaml(doc, out);
  }
}

boost::json::object List(boost::json::array items) {
  boost::json::object list;
  list["apiVersion"] = "v1";
  list["kind"] = "List";
  list["items"] = std::move(items);
  return list;
}

}  // namespace drop::replay
