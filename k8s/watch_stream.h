// A watch response read one event at a time. The API server streams newline-separated JSON
// objects, {"type": "ADDED", "object": {...}}, in HTTP chunks that need not line up with events;
// an incremental parser (Boost.JSON's basic_parser, through SelectiveParser) takes the bytes as
// they come and stops at the end of each event, so no event is ever buffered twice and memory
// stays at one event. Given a selection, it builds only the members the consumer reads.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/status.h"
#include "k8s/api_status.h"
#include "k8s/json_select.h"
#include "k8s/transport.h"

namespace drop::k8s {

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };

struct WatchEvent {
  WatchEventType type;
  // The object (for kError, a metav1.Status). Valid until the next event is read.
  const boost::json::object* object = nullptr;
};

// Bytes in, events out. Feed() consumes input up to the end of the next complete event.
class WatchDecoder {
 public:
  // `selection`: the members of each event to build; nullptr: all. Borrowed.
  explicit WatchDecoder(const JsonSelection* selection = nullptr);
  WatchDecoder(const WatchDecoder&) = delete;
  WatchDecoder& operator=(const WatchDecoder&) = delete;

  // Consumes bytes from [data, data + size) and returns how many; stops right after an event is
  // complete, which event() then returns until the next Feed().
  Result<size_t> Feed(const char* data, size_t size);
  std::optional<WatchEvent> event() const;
  bool has_event() const { return has_event_; }
  // No part of an event is pending: the input so far ended between events.
  bool between_events() const { return fresh_; }

 private:
  // Parsed values live in an arena made afresh for each event: no allocation per JSON node.
  // (Made afresh rather than released: Boost 1.81's monotonic_resource keeps doubling its next
  // block size across release() until an allocation fails, and one lent a fixed buffer threw
  // bad_alloc on a pod event larger than the buffer.)
  std::optional<boost::json::monotonic_resource> arena_;
  SelectiveParser parser_;
  // Move-constructed from the parser's result so that it stays in the arena (assigning to a
  // value would copy the event into the value's own storage).
  std::optional<boost::json::value> value_;
  bool has_event_ = false;
  bool fresh_ = true;  // the parser holds no part of an event yet
};

// One watch: the decoder over a streamed response body.
class WatchStream {
 public:
  explicit WatchStream(std::unique_ptr<BodyStream> body, const JsonSelection* selection = nullptr);
  // The next event; nullopt when the server ended the watch cleanly. An error when the stream
  // broke or carried something that is not a watch event.
  boost::asio::awaitable<ApiResult<std::optional<WatchEvent>>> Next();
  // Breaks the watch off (on the client's executor): Next() in progress fails.
  void Cancel() { body_->Cancel(); }

 private:
  std::unique_ptr<BodyStream> body_;
  WatchDecoder decoder_;
  std::unique_ptr<char[]> buffer_;
  size_t begin_ = 0, end_ = 0;
};

// The type field of a watch event; nullopt when unknown.
std::optional<WatchEventType> ParseWatchEventType(std::string_view type);

}  // namespace drop::k8s
