// UTF-8, as RFC 3629 defines it: the journal's text is UTF-8, and JSON can carry nothing else.
#pragma once

#include <string>
#include <string_view>

namespace drop {

// Whether `text` is well-formed UTF-8: no stray or missing continuation bytes, no overlong forms,
// no surrogates, nothing past U+10FFFF.
bool IsUtf8(std::string_view text);

// `text` with each byte that does not begin a well-formed character replaced by U+FFFD (as a
// browser decodes it): `text` itself when it is UTF-8 already, as it nearly always is.
std::string ToUtf8(std::string_view text);

}  // namespace drop
