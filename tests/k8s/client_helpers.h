// A client on its own I/O thread for tests, and small JSON helpers.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "k8s/client.h"
#include "k8s/io_thread.h"

namespace drop::k8s::testing {

struct TestClient {
  explicit TestClient(const Config& config, ClientOptions options = {}) {
    if (options.identity.empty()) options.identity = "k8s-test";
    Result<std::shared_ptr<Client>> c = Client::Create(io.executor(), config, std::move(options));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (c.ok()) client = std::move(*c);
  }
  ~TestClient() {
    io.Stop();  // first, so nothing runs while the client goes
    client.reset();
  }

  template <typename T>
  T Run(boost::asio::awaitable<T> task) {
    return RunSync(io.executor(), std::move(task));
  }

  IoThread io;
  std::shared_ptr<Client> client;
};

inline boost::json::object JsonObject(std::string_view text) {
  return boost::json::parse(text).as_object();
}

// A pod that never needs a node to exist: pinned to `node` by node affinity (like drop's), or
// unschedulable when `node` is empty.
inline boost::json::object PodJson(const std::string& ns, const std::string& name,
                                   const std::string& node = "nowhere") {
  boost::json::object pod = JsonObject(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"labels": {"app.kubernetes.io/managed-by": "drop"}},
    "spec": {"restartPolicy": "Never", "automountServiceAccountToken": false,
             "containers": [{"name": "image", "image": "registry.example.com/base:1"}]}})");
  pod["metadata"].as_object()["name"] = name;
  pod["metadata"].as_object()["namespace"] = ns;
  pod["spec"].as_object()["affinity"] = JsonObject(
      R"({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms":
          [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["NODE"]}]}]}}})");
  pod["spec"]
      .as_object()["affinity"]
      .as_object()["nodeAffinity"]
      .as_object()["requiredDuringSchedulingIgnoredDuringExecution"]
      .as_object()["nodeSelectorTerms"]
      .as_array()[0]
      .as_object()["matchFields"]
      .as_array()[0]
      .as_object()["values"]
      .as_array()[0] = node;
  return pod;
}

}  // namespace drop::k8s::testing
