#include "k8s/api_status.h"

#include <boost/json.hpp>

#include "core/utf8.h"
#include "k8s/json_util.h"

namespace drop::k8s {
namespace {

namespace json = boost::json;

// The reason the API server would give for a code, when its body is not a metav1.Status.
std::string_view ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return kReasonUnauthorized;
    case 403:
      return kReasonForbidden;
    case 404:
      return kReasonNotFound;
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return kReasonConflict;
    case 410:
      return kReasonGone;
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return kReasonTooManyRequests;
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return kReasonTimeout;
    default:
      return code >= 500 ? "InternalError" : "Unknown";
  }
}

}  // namespace

Status ApiStatus::ToStatus() const {
  if (ok()) return Status::Ok();
  switch (http_code_) {
    case 0:
    case 429:
      return Status::Unavailable(message_);
    case 400:
    case 422:
      return Status::InvalidArgument(message_);
    case 404:
      return Status::NotFound(message_);
    case 409:
      return IsAlreadyExists() ? Status::AlreadyExists(message_)
                               : Status::FailedPrecondition(message_);
    case 401:
    case 403:
    case 410:
      return Status::FailedPrecondition(message_);
    default:
      return http_code_ >= 500 ? Status::Unavailable(message_) : Status::Internal(message_);
  }
}

std::string RequestInfo::Describe() const {
  std::string s = verb + " " + resource;
  if (!group.empty()) s += "." + group;
  if (!subresource.empty()) s += "/" + subresource;
  if (!name.empty()) s += " " + name;
  if (!namespace_.empty()) s += " in namespace " + namespace_;
  return s;
}

ApiStatus ApiStatusFromResponse(const RequestInfo& info, int http_code, std::string_view body) {
  std::string reason;
  std::string server_message;
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object() && GetString(v.as_object(), "kind") == "Status") {
    reason = GetString(v.as_object(), "reason");
    server_message = GetString(v.as_object(), "message");
  }
  if (reason.empty()) reason = ReasonForCode(http_code);
  if (server_message.empty()) {
    // Not a Status: keep the start of whatever came back, on one line, as UTF-8 (the message is
    // journaled as text; the cut may split a character, and a proxy may send anything).
    server_message = ToUtf8(body.substr(0, 200));
    for (char& c : server_message) {
      if (c == '\n' || c == '\r') c = ' ';
    }
  }
  std::string message =
      info.Describe() + ": " + std::to_string(http_code) + " " + reason + ": " + server_message;
  if (http_code == 403) {
    message += " (RBAC refused verb \"" + info.verb + "\" on resource \"" + info.resource +
               (info.subresource.empty() ? "" : "/" + info.subresource) + "\"" +
               (info.group.empty() ? "" : " in API group \"" + info.group + "\"") +
               (info.namespace_.empty() ? " (cluster scope)"
                                        : " in namespace \"" + info.namespace_ + "\"") +
               "; grant it to drop's ServiceAccount in its Role or ClusterRole)";
  }
  return ApiStatus(http_code, std::move(reason), std::move(message));
}

}  // namespace drop::k8s
