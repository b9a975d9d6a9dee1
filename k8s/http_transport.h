// The Transport over HTTP/1.1 and TLS (Boost.Beast, OpenSSL): the server's certificate is checked
// against the configured CA and its name against the host (or tls-server-name); connections are
// kept alive and reused, one request at a time each, and dropped when idle too long.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>

#include "core/status.h"
#include "k8s/config.h"
#include "k8s/transport.h"

namespace drop::k8s {

struct HttpTransportOptions {
  size_t max_idle_connections = 32;
  // A kept-alive connection unused this long is closed rather than reused: well below the API
  // server's idle timeout (90 s), so a reused connection is rarely one the server just closed.
  std::chrono::milliseconds idle_ttl{45000};
  std::chrono::milliseconds connect_timeout{10000};  // TCP connect and TLS handshake
};

// "https://host:port/prefix" taken apart.
struct ServerAddress {
  std::string host;  // without brackets for IPv6
  std::string port;
  std::string path_prefix;  // "" or "/k8s/clusters/c-1", no trailing slash
};
Result<ServerAddress> ParseServerUrl(const std::string& url);

class HttpTransport : public Transport, public std::enable_shared_from_this<HttpTransport> {
 public:
  // Fails when the TLS material in `config` cannot be used (a CA or key that is not PEM).
  static Result<std::shared_ptr<HttpTransport>> Create(boost::asio::any_io_executor executor,
                                                       const Config& config,
                                                       HttpTransportOptions options);
  ~HttpTransport() override;

  boost::asio::awaitable<Exchange> RoundTrip(HttpRequest request) override;
  boost::asio::awaitable<StreamExchange> OpenStream(
      HttpRequest request, std::chrono::milliseconds idle_timeout) override;
  Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) override;

  struct Connection;  // a TLS stream and its read buffer (http_transport.cc)

  // Hands a connection back for reuse (a finished stream does this).
  void Release(std::unique_ptr<Connection> connection);

 private:
  HttpTransport(boost::asio::any_io_executor executor, Config config, ServerAddress address,
                HttpTransportOptions options);
  Result<std::shared_ptr<boost::asio::ssl::context>> MakeContext(const std::string& cert_pem,
                                                                 const std::string& key_pem) const;
  std::unique_ptr<Connection> TakeIdle();
  boost::asio::awaitable<ApiResult<std::unique_ptr<Connection>>> Connect();
  // A connection with the request written on it, its timeout running: a kept-alive one when
  // `reuse` finds one, else a fresh one. Without a connection, `error` says why; a failure on a
  // kept-alive connection (`reused`) is worth one more try on a fresh one.
  struct Sent {
    std::unique_ptr<Connection> connection;
    bool reused = false;
    bool request_sent = false;  // without a connection: whether any of the request went out
    ApiStatus error;
  };
  boost::asio::awaitable<Sent> Send(const HttpRequest& request, bool reuse);
  std::string Peer() const { return address_.host + ":" + address_.port; }
  std::string ServerName() const;

  boost::asio::any_io_executor executor_;
  Config config_;
  ServerAddress address_;
  HttpTransportOptions options_;
  std::shared_ptr<boost::asio::ssl::context> context_;
  std::deque<std::unique_ptr<Connection>> idle_;
};

}  // namespace drop::k8s
