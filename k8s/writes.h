// The writes the operator makes, with the semantics each needs on top of the REST calls:
//  - create, where an object of that name already there can count as success (drop pods have
//    deterministic names, so a create repeated after a crash answers AlreadyExists);
//  - delete with a uid precondition, so a newer object of the same name is never removed;
//  - status written through the /status subresource with the resourceVersion drop last read,
//    and on a conflict written again over the fresh object (unless it is another object now).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>
#include <functional>
#include <string>

#include "k8s/api_status.h"
#include "k8s/client.h"
#include "k8s/resource.h"

namespace drop::k8s {

struct Created {
  boost::json::object object;  // as the server has it now
  std::string uid;
  std::string resource_version;
  bool already_existed = false;  // AlreadyExists, taken as success
};

// Creates `object` in `ns`. With `already_exists_ok`, AlreadyExists is success (the existing
// object is read back and returned), and the create may be retried after a connection failure or
// a 5xx, since a repeat cannot make a second object.
boost::asio::awaitable<ApiResult<Created>> CreateObject(Client& client, Resource resource,
                                                        std::string ns, boost::json::object object,
                                                        bool already_exists_ok);

// Deletes the pod if its uid is still `uid`. A pod that is already gone is success; one whose
// uid differs (deleted and made again) is refused by the server: 409 Conflict, which
// IsPreconditionFailed() recognizes.
boost::asio::awaitable<ApiStatus> DeletePod(Client& client, std::string ns, std::string name,
                                            std::string uid,
                                            std::optional<int64_t> grace_period_seconds = {});
bool IsPreconditionFailed(const ApiStatus& status);

struct StatusWrite {
  StatusWrite() {}               // not an aggregate (see client.h)
  std::string uid;               // the object the status is for; another uid is not written
  std::string resource_version;  // the version the status was computed from
  boost::json::value status;     // the whole new .status
  int max_conflicts = 5;         // conflicts retried against fresh state before giving up
  // Asked before every attempt (when set): a replica no longer sure it leads stops retrying, so
  // it never writes over a status a new leader wrote.
  std::function<bool()> may_write;
};

// PUT <object>/status. On 409 Conflict, reads the object again and, if it is still the same
// object (uid), writes the status over the fresh resourceVersion. Returns the object as written.
boost::asio::awaitable<ApiResult<boost::json::object>> UpdateStatus(
    Client& client, Resource resource, std::string ns, std::string name, StatusWrite write);

}  // namespace drop::k8s
