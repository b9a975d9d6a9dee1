#include "k8s/credentials.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "k8s/base64.h"
#include "k8s/exec_plugin.h"

namespace drop::k8s {

namespace asio = boost::asio;

Credentials::Credentials(asio::any_io_executor executor, Config config, CredentialsOptions options)
    : executor_(std::move(executor)), config_(std::move(config)), options_(std::move(options)) {
  if (!config_.token.empty()) {
    current_.authorization = "Bearer " + config_.token;
    have_ = true;
  } else if (!config_.username.empty() && config_.token_file.empty() && !config_.exec) {
    current_.authorization = "Basic " + Base64Encode(config_.username + ":" + config_.password);
    have_ = true;
  } else if (config_.token_file.empty() && !config_.exec) {
    have_ = true;  // client certificate only, or anonymous
  }
}

int64_t Credentials::NowMs() const {
  if (options_.now_ms) return options_.now_ms();
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Credentials::Fresh() const {
  if (!have_) return false;
  if (!config_.token.empty()) return true;
  if (config_.exec) return expiry_ms_ == 0 || NowMs() < expiry_ms_;
  if (!config_.token_file.empty()) {
    return std::chrono::steady_clock::now() - read_at_ < options_.token_file_refresh;
  }
  return true;
}

void Credentials::Invalidate() {
  if (Refreshable() && config_.token.empty()) have_ = false;
}

asio::awaitable<Status> Credentials::Refresh() {
  if (config_.exec) {
    ++exec_runs_;
    Result<ExecCredential> c = co_await RunExecPlugin(executor_, *config_.exec, config_.server,
                                                      config_.ca_pem, options_.exec_timeout);
    if (!c.ok()) co_return c.status();
    current_.authorization = c->token.empty() ? "" : "Bearer " + c->token;
    current_.client_cert_pem = c->client_cert_pem;
    current_.client_key_pem = c->client_key_pem;
    expiry_ms_ = c->expiry_ms;
    have_ = true;
    co_return Status::Ok();
  }
  std::ifstream in(config_.token_file, std::ios::binary);
  if (!in) {
    co_return Status::Unavailable("token file " + config_.token_file + " (" + config_.source +
                                  "): cannot read: " + std::strerror(errno));
  }
  std::ostringstream s;
  s << in.rdbuf();
  std::string token = s.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.empty()) {
    co_return Status::Unavailable("token file " + config_.token_file + " (" + config_.source +
                                  ") is empty");
  }
  current_.authorization = "Bearer " + token;
  read_at_ = std::chrono::steady_clock::now();
  have_ = true;
  co_return Status::Ok();
}

asio::awaitable<Result<Credential>> Credentials::Get() {
  while (!Fresh()) {
    if (refreshing_) {
      // Another request is running the plugin or reading the file: wait for it to end.
      auto waiters = waiters_;
      co_await waiters->async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    refreshing_ = true;
    waiters_ = std::make_shared<asio::steady_timer>(executor_,
                                                    std::chrono::steady_clock::time_point::max());
    Status s = co_await Refresh();
    refreshing_ = false;
    waiters_->cancel();
    // A token file that cannot be read again (mid-rotation, say) leaves the token read before in
    // use, as client-go does; the next request reads it again.
    if (!s.ok() && !config_.exec && have_) co_return current_;
    if (!s.ok()) co_return s;
    // A token that expires at once is still good for this request.
    co_return current_;
  }
  co_return current_;
}

}  // namespace drop::k8s
