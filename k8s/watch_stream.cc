#include "k8s/watch_stream.h"

#include <cstring>

#include "k8s/json_util.h"

namespace drop::k8s {

namespace json = boost::json;

namespace {

// Large enough for a pod event and a node with its images without reaching for the heap.
constexpr size_t kArenaInitial = 64 * 1024;
constexpr size_t kReadBuffer = 64 * 1024;

}  // namespace

std::optional<WatchEventType> ParseWatchEventType(std::string_view type) {
  if (type == "ADDED") return WatchEventType::kAdded;
  if (type == "MODIFIED") return WatchEventType::kModified;
  if (type == "DELETED") return WatchEventType::kDeleted;
  if (type == "BOOKMARK") return WatchEventType::kBookmark;
  if (type == "ERROR") return WatchEventType::kError;
  return std::nullopt;
}

WatchDecoder::WatchDecoder(const JsonSelection* selection) : parser_(selection) {}

Result<size_t> WatchDecoder::Feed(const char* data, size_t size) {
  if (has_event_) {
    has_event_ = false;
    value_.reset();
  }
  size_t used = 0;
  while (used < size) {
    if (fresh_) {
      // Skip the newlines between events before starting one, so that an arena is not emptied
      // for whitespace.
      while (used < size && (data[used] == '\n' || data[used] == '\r' || data[used] == ' '))
        ++used;
      if (used == size) break;
      value_.reset();
      parser_.reset();                // lets go of the previous arena before it goes
      arena_.emplace(kArenaInitial);  // its own first block; no borrowed buffer to outgrow
      parser_.reset(json::storage_ptr(&*arena_));
      fresh_ = false;
    }
    // The server ends each event with a newline (JSON escapes those inside strings): offering
    // the parser no more than one line keeps it from looking past the event (write_some's
    // cost grows with the input it is given). Correct for any framing: a line that is not a
    // whole event is simply continued.
    const char* newline = static_cast<const char*>(std::memchr(data + used, '\n', size - used));
    size_t n = newline != nullptr ? static_cast<size_t>(newline - (data + used)) + 1 : size - used;
    json::error_code ec;
    used += parser_.write_some(data + used, n, ec);
    if (ec) return Status::Corruption("watch stream: not JSON: " + ec.message());
    if (parser_.done()) {
      value_.emplace(parser_.release());
      fresh_ = true;
      has_event_ = true;
      break;
    }
  }
  return used;
}

std::optional<WatchEvent> WatchDecoder::event() const {
  if (!has_event_) return std::nullopt;
  const json::object* o = value_ ? value_->if_object() : nullptr;
  if (o == nullptr) return std::nullopt;
  std::optional<WatchEventType> type = ParseWatchEventType(GetString(*o, "type"));
  const json::object* object = GetObject(*o, "object");
  if (!type || object == nullptr) return std::nullopt;
  return WatchEvent{*type, object};
}

WatchStream::WatchStream(std::unique_ptr<BodyStream> body, const JsonSelection* selection)
    : body_(std::move(body)), decoder_(selection), buffer_(new char[kReadBuffer]) {}

boost::asio::awaitable<ApiResult<std::optional<WatchEvent>>> WatchStream::Next() {
  while (true) {
    if (begin_ < end_) {
      Result<size_t> used = decoder_.Feed(buffer_.get() + begin_, end_ - begin_);
      if (!used.ok())
        co_return ApiStatus::NoResponse(kReasonConnectionError, used.status().message());
      begin_ += *used;
      if (decoder_.has_event()) {
        std::optional<WatchEvent> e = decoder_.event();
        if (!e) {
          co_return ApiStatus::NoResponse(kReasonConnectionError,
                                          "watch stream: an object that is not a watch event");
        }
        co_return std::optional<WatchEvent>(*e);
      }
      continue;
    }
    ApiResult<size_t> n = co_await body_->ReadSome(buffer_.get(), kReadBuffer);
    if (!n.ok()) co_return n.status();
    if (*n == 0) {
      if (!decoder_.between_events()) {
        co_return ApiStatus::NoResponse(kReasonConnectionError,
                                        "watch stream ended inside an event");
      }
      co_return std::optional<WatchEvent>();
    }
    begin_ = 0;
    end_ = *n;
  }
}

}  // namespace drop::k8s
