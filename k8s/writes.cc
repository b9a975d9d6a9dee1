#include "k8s/writes.h"

#include "k8s/json_util.h"

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;

boost::asio::awaitable<ApiResult<Created>> CreateObject(Client& client, Resource resource,
                                                        std::string ns, json::object object,
                                                        bool already_exists_ok) {
  std::string name(NameOf(object));
  ApiResult<json::object> made =
      co_await client.Create(resource, ns, std::move(object), already_exists_ok);
  if (made.ok()) {
    Created c;
    c.uid = UidOf(*made);
    c.resource_version = ResourceVersionOf(*made);
    c.object = std::move(*made);
    co_return c;
  }
  if (!already_exists_ok || !made.status().IsAlreadyExists() || name.empty()) {
    co_return made.status();
  }
  ApiResult<json::object> existing = co_await client.Get(resource, ns, name);
  if (!existing.ok()) co_return existing.status();
  Created c;
  c.uid = UidOf(*existing);
  c.resource_version = ResourceVersionOf(*existing);
  c.object = std::move(*existing);
  c.already_existed = true;
  co_return c;
}

bool IsPreconditionFailed(const ApiStatus& status) {
  // The API server words it "the UID in the precondition (x) does not match the UID in record
  // (y)" (rest.BeforeDelete) or "Precondition failed: UID in precondition: x, ..." (storage).
  const std::string& m = status.message();
  return status.IsConflict() && (m.find("UID in the precondition") != std::string::npos ||
                                 m.find("Precondition failed") != std::string::npos);
}

boost::asio::awaitable<ApiStatus> DeletePod(Client& client, std::string ns, std::string name,
                                            std::string uid,
                                            std::optional<int64_t> grace_period_seconds) {
  DeleteOptions options;
  options.uid = std::move(uid);
  options.grace_period_seconds = grace_period_seconds;
  ApiResult<json::object> r = co_await client.Delete(kPods, ns, name, std::move(options));
  if (r.ok() || r.status().IsNotFound()) co_return ApiStatus();
  co_return r.status();
}

boost::asio::awaitable<ApiResult<json::object>> UpdateStatus(Client& client, Resource resource,
                                                             std::string ns, std::string name,
                                                             StatusWrite write) {
  std::string version = write.resource_version;
  for (int conflicts = 0;; ++conflicts) {
    if (write.may_write && !write.may_write()) {
      co_return ApiStatus::NoResponse("NotLeader", "update " + std::string(resource.plural) +
                                                       "/status " + name +
                                                       ": not sent: this replica is not sure it "
                                                       "leads");
    }
    json::object metadata{{"name", name}};
    if (resource.namespaced) metadata["namespace"] = ns;
    if (!write.uid.empty()) metadata["uid"] = write.uid;
    if (!version.empty()) metadata["resourceVersion"] = version;
    json::object body{{"metadata", std::move(metadata)}, {"status", write.status}};
    ApiResult<json::object> r =
        co_await client.Update(resource, ns, name, "status", std::move(body));
    if (r.ok() || !r.status().IsConflict() || conflicts >= write.max_conflicts) co_return r;
    // Someone wrote in between: take the fresh version, if it is still the same object.
    ApiResult<json::object> fresh = co_await client.Get(resource, ns, name);
    if (!fresh.ok()) co_return fresh.status();
    if (!write.uid.empty() && UidOf(*fresh) != write.uid) {
      co_return ApiStatus(409, std::string(kReasonConflict),
                          "update " + std::string(resource.plural) + "/status " + name +
                              ": the object was deleted and made again (uid " + write.uid +
                              ", now " + std::string(UidOf(*fresh)) +
                              "); its status is not written");
    }
    version = ResourceVersionOf(*fresh);
  }
}

}  // namespace drop::k8s
