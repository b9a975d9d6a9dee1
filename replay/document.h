// Documents (Boost.JSON values) printed as kubectl prints objects: YAML with `-o yaml`, indented
// JSON with `-o json`; and the --output flag's value.
#pragma once

#include <boost/json.hpp>
#include <ostream>
#include <string>

#include "core/status.h"

namespace drop::replay {

enum class Format { kTable, kYaml, kJson };

// "", "table", "wide" -> kTable; "yaml"; "json". Anything else names the choices.
Result<Format> ParseFormat(const std::string& text);

// Text that is not UTF-8, which JSON cannot carry (a journal written before drop made all its text
// UTF-8 may hold some), is printed with U+FFFD for each byte that begins no character.
void PrintYaml(const boost::json::value& doc, std::ostream& out);
void PrintJson(const boost::json::value& doc, std::ostream& out);  // 4-space indent, as kubectl
void Print(const boost::json::value& doc, Format format, std::ostream& out);

// kubectl's wrapper for several objects.
boost::json::object List(boost::json::array items);

}  // namespace drop::replay
