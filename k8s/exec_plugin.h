// Exec credential plugins (client.authentication.k8s.io ExecCredential, as kubectl runs them):
// the plugin is started with KUBERNETES_EXEC_INFO in its environment and prints an ExecCredential
// with a token (or a client certificate) and when it expires.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "k8s/config.h"

namespace drop::k8s {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  int64_t expiry_ms = 0;  // 0: does not expire
};

// Reads a plugin's output; errors name the plugin and what is wrong with what it printed.
Result<ExecCredential> ParseExecCredential(std::string_view output, const ExecConfig& exec);

// Runs the plugin (without blocking the executor) and parses what it prints. A plugin that does
// not finish within `timeout` is killed.
boost::asio::awaitable<Result<ExecCredential>> RunExecPlugin(boost::asio::any_io_executor executor,
                                                             ExecConfig exec, std::string server,
                                                             std::string ca_pem,
                                                             std::chrono::milliseconds timeout);

}  // namespace drop::k8s
