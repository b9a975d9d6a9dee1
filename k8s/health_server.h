// /healthz and /readyz for the kubelet's probes: a small HTTP/1.1 server (Beast, C++20
// coroutines) on a thread of its own, so a busy loop cannot make the operator look dead.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/status.h"

namespace drop::k8s {

// A bind address as the operator's flags take it: ":8081" (every interface), "127.0.0.1:8081",
// "[::1]:8081", "localhost:8081" (a host name: one of its addresses, IPv4 first), or port 0 for
// any free port. `flag` names the flag in errors.
Result<boost::asio::ip::tcp::endpoint> ParseBindAddress(const std::string& text,
                                                        const std::string& flag);

class HealthServer {
 public:
  using Check = std::function<bool()>;
  // Why the replica is not ready yet; empty when it is.
  using WhyNot = std::function<std::string()>;

  // Listens on `endpoint`; /healthz answers 200 while `live()` holds, /readyz while `not_ready()`
  // is empty, else 503 with the reason.
  static Result<std::unique_ptr<HealthServer>> Start(const boost::asio::ip::tcp::endpoint& endpoint,
                                                     Check live, WhyNot not_ready);
  ~HealthServer();

  uint16_t port() const { return port_; }

 private:
  HealthServer() = default;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  Check live_;
  WhyNot not_ready_;
  uint16_t port_ = 0;
  std::thread thread_;
};

}  // namespace drop::k8s
