// What the API server said about a request that did not succeed: the HTTP code, the reason of the
// metav1.Status it returned (NotFound, AlreadyExists, Conflict, Forbidden, Expired, ...) and a
// message that names the request. A request that got no response has http_code 0 and reason
// "ConnectionError" (or "Timeout", "TLSError"). ApiResult<T> is a value or that ApiStatus.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "core/status.h"

namespace drop::k8s {

// Status reasons (k8s.io/apimachinery/pkg/apis/meta/v1 StatusReason) the client acts on, and the
// two it uses when there was no response.
inline constexpr std::string_view kReasonNotFound = "NotFound";
inline constexpr std::string_view kReasonAlreadyExists = "AlreadyExists";
inline constexpr std::string_view kReasonConflict = "Conflict";
inline constexpr std::string_view kReasonForbidden = "Forbidden";
inline constexpr std::string_view kReasonUnauthorized = "Unauthorized";
inline constexpr std::string_view kReasonExpired = "Expired";  // 410: resourceVersion too old
inline constexpr std::string_view kReasonGone = "Gone";
inline constexpr std::string_view kReasonTooManyRequests = "TooManyRequests";
inline constexpr std::string_view kReasonConnectionError = "ConnectionError";
inline constexpr std::string_view kReasonTimeout = "Timeout";
// The server's certificate did not verify (wrong CA, wrong name): retrying cannot help.
inline constexpr std::string_view kReasonTlsError = "TLSError";

class ApiStatus {
 public:
  ApiStatus() = default;  // success
  ApiStatus(int http_code, std::string reason, std::string message)
      : http_code_(http_code), reason_(std::move(reason)), message_(std::move(message)) {}

  // No response: a connection, TLS or timeout failure before the server answered.
  static ApiStatus NoResponse(std::string_view reason, std::string message) {
    return ApiStatus(0, std::string(reason), std::move(message));
  }

  bool ok() const { return http_code_ == 0 && reason_.empty(); }
  int http_code() const { return http_code_; }
  const std::string& reason() const { return reason_; }
  // Names the request ("create pods in namespace drop-system"), the code and the server's words.
  const std::string& message() const { return message_; }

  bool IsNotFound() const { return http_code_ == 404; }
  bool IsAlreadyExists() const { return http_code_ == 409 && reason_ == kReasonAlreadyExists; }
  // 409 Conflict: a stale resourceVersion, or a uid precondition that no longer holds.
  bool IsConflict() const { return http_code_ == 409 && reason_ != kReasonAlreadyExists; }
  bool IsGone() const { return http_code_ == 410; }
  bool IsForbidden() const { return http_code_ == 403; }
  bool IsUnauthorized() const { return http_code_ == 401; }
  bool IsTooManyRequests() const { return http_code_ == 429; }
  bool IsNoResponse() const { return !ok() && http_code_ == 0; }

  // The same error as a drop::Status (the code mapped, the message kept), for callers that only
  // need "why".
  Status ToStatus() const;
  std::string ToString() const { return message_; }

 private:
  int http_code_ = 0;
  std::string reason_;
  std::string message_;
};

template <typename T>
class ApiResult : public Result<T, ApiStatus> {
 public:
  using Result<T, ApiStatus>::Result;
  // An error, until assigned (Asio's co_spawn needs results it can default-construct).
  ApiResult() : Result<T, ApiStatus>(ApiStatus::NoResponse("Internal", "no result")) {}
};

// What a request was, in RBAC's words, so that errors can name it: verb, resource (with its
// subresource and API group), namespace, name.
struct RequestInfo {
  std::string verb;  // get list watch create update patch delete
  std::string group;
  std::string resource;
  std::string subresource;
  std::string namespace_;
  std::string name;

  // "create pods in namespace drop-system", "update cachedimages.drop.io/status web".
  std::string Describe() const;
};

// Builds the ApiStatus for an HTTP response that was not 2xx from its body (a metav1.Status when
// the API server sent one). A 403 message names the verb, resource and namespace RBAC refused.
ApiStatus ApiStatusFromResponse(const RequestInfo& info, int http_code, std::string_view body);

}  // namespace drop::k8s
