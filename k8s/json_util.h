// Reading Kubernetes objects out of Boost.JSON values: a missing member or one of another type
// reads as empty, which is how the API treats omitted fields.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <string>
#include <string_view>

namespace drop::k8s {

inline const boost::json::object* GetObject(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_object() : nullptr;
}

inline const boost::json::array* GetArray(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_array() : nullptr;
}

inline std::string_view GetString(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return {};
  const boost::json::string* s = v->if_string();
  return s != nullptr ? std::string_view(*s) : std::string_view();
}

inline std::string_view GetString(const boost::json::object* o, std::string_view key) {
  return o != nullptr ? GetString(*o, key) : std::string_view();
}

inline const boost::json::object* GetObject(const boost::json::object* o, std::string_view key) {
  return o != nullptr ? GetObject(*o, key) : nullptr;
}

inline const boost::json::array* GetArray(const boost::json::object* o, std::string_view key) {
  return o != nullptr ? GetArray(*o, key) : nullptr;
}

// An integer member; `fallback` when absent or not an integer (a whole double counts).
inline int64_t GetInt(const boost::json::object* o, std::string_view key, int64_t fallback = 0) {
  if (o == nullptr) return fallback;
  const boost::json::value* v = o->if_contains(key);
  if (v == nullptr) return fallback;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return fallback;
}

inline bool GetBool(const boost::json::object* o, std::string_view key, bool fallback = false) {
  if (o == nullptr) return fallback;
  const boost::json::value* v = o->if_contains(key);
  return v != nullptr && v->is_bool() ? v->get_bool() : fallback;
}

// metadata.resourceVersion, metadata.name and metadata.uid of an object.
inline std::string_view ResourceVersionOf(const boost::json::object& o) {
  return GetString(GetObject(o, "metadata"), "resourceVersion");
}
inline std::string_view NameOf(const boost::json::object& o) {
  return GetString(GetObject(o, "metadata"), "name");
}
inline std::string_view UidOf(const boost::json::object& o) {
  return GetString(GetObject(o, "metadata"), "uid");
}

}  // namespace drop::k8s
