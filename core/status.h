// Errors as values at module boundaries: a code and a message that tells the user what to do.
// Modelled on RocksDB's Status and Abseil's StatusOr; exceptions never cross into the loop.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace drop {

class Status {
 public:
  enum class Code {
    kOk,
    kInvalidArgument,  // the caller's input is wrong (a flag, a spec, a time outside a range)
    kNotFound,
    kAlreadyExists,
    kFailedPrecondition,  // the world is not in the state the operation needs
    kCorruption,          // stored data is damaged
    kIOError,
    kUnavailable,  // try again later
    kInternal,
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {Code::kAlreadyExists, std::move(m)}; }
  static Status FailedPrecondition(std::string m) {
    return {Code::kFailedPrecondition, std::move(m)};
  }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // A copy whose message is prefixed with context ("journal /var/lib/drop: ...").
  Status Annotate(const std::string& context) const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Status::Code code);

// A value or the Status that explains why there is none. (E: the kind of status; the
// Kubernetes client's ApiResult uses ApiStatus, which keeps the HTTP code and reason.)
template <typename T, typename E = Status>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}    // NOLINT(google-explicit-constructor)
  Result(E status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const E& status() const {
    static const E kOk;
    return ok() ? kOk : std::get<E>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, E> v_;
};

}  // namespace drop
