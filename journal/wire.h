// Just enough of the protobuf wire format to look inside a stored entry without decoding it:
// replays skip the entries they do not need by their field numbers (core/schema.proto).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace drop::journal::wire {

// Reads a varint at `*p`; false when it runs past the end.
inline bool Varint(std::string_view b, size_t* p, uint64_t* v) {
  *v = 0;
  for (int shift = 0; *p < b.size() && shift < 64; shift += 7) {
    uint8_t c = static_cast<uint8_t>(b[(*p)++]);
    *v |= static_cast<uint64_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) return true;
  }
  return false;
}

// Calls f(field, wire_type, value, payload) for each field of the message bytes [p, end): value
// for varints, payload for length-delimited fields. Stops early when f returns false. False when
// the bytes are not a well-formed message at this level.
template <typename F>
bool ForEachField(std::string_view b, size_t p, size_t end, F&& f) {
  uint64_t tag = 0, v = 0;
  while (p < end) {
    if (!Varint(b, &p, &tag) || tag >> 3 == 0) return false;
    int field = static_cast<int>(tag >> 3), type = static_cast<int>(tag & 7);
    std::string_view payload;
    switch (type) {
      case 0:
        if (!Varint(b, &p, &v)) return false;
        break;
      case 1:
      case 5:
        if (p + (type == 1 ? 8 : 4) > end) return false;
        p += type == 1 ? 8 : 4;
        break;
      case 2:
        if (!Varint(b, &p, &v) || v > end - p) return false;
        payload = b.substr(p, v);
        p += v;
        break;
      default:
        return false;
    }
    if (!f(field, type, v, payload)) return true;
  }
  return p == end;
}

// The first length-delimited field numbered at least `least` in `message`, with its payload; 0
// when there is none or the bytes do not parse.
inline int MessageField(std::string_view message, int least, std::string_view* payload) {
  int found = 0;
  bool ok = ForEachField(message, 0, message.size(),
                         [&](int field, int type, uint64_t, std::string_view p) {
                           if (type != 2 || field < least) return true;
                           found = field;
                           *payload = p;
                           return false;
                         });
  return ok ? found : 0;
}

// The field number of a stored drop.v1.Entry's kind, with the kind's payload; 0 when there is
// none. The kinds are the oneof from field 10 on, an Entry's only length-delimited fields.
inline int EntryKind(std::string_view entry, std::string_view* kind) {
  return MessageField(entry, 10, kind);
}

}  // namespace drop::journal::wire
