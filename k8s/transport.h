// The seam under the client: one HTTP exchange with the API server, or a streamed response (a
// watch). The real one (http_transport.h) is a keep-alive pool of TLS connections; tests put a
// scripted one in its place to check retries, rate limits and credentials without a server.
// Everything here runs on the client's executor (one strand).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "k8s/api_status.h"

namespace drop::k8s {

struct HttpRequest {
  HttpRequest() {}     // not an aggregate (see client.h)
  std::string method;  // GET POST PUT PATCH DELETE
  std::string target;  // path and query, without the server's path prefix
  std::string body;
  std::string content_type;
  std::string authorization;  // the Authorization header, if any
  std::string user_agent;
  // May be sent again on a fresh connection when a kept-alive one turns out to be closed.
  bool idempotent = false;
  std::chrono::milliseconds timeout{30000};  // the whole exchange; for a stream, until its headers
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

// The outcome of one exchange: a response, or an error without one (connection refused or
// reset, TLS failure, timeout).
struct Exchange {
  HttpResponse response;
  ApiStatus error;
  // With an error: whether the request may have reached the server (then only an idempotent
  // request may be sent again).
  bool request_sent = false;
};

// The body of a streamed response, read as it arrives.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // Reads the next bytes of the body into [data, data + size); 0 at its end. An error when the
  // connection breaks or nothing arrives within the stream's idle timeout.
  virtual boost::asio::awaitable<ApiResult<size_t>> ReadSome(char* data, size_t size) = 0;
  // Breaks the stream off: a ReadSome in progress completes with an error. On the executor only.
  virtual void Cancel() = 0;
};

struct StreamExchange {
  int status = 0;                    // 200: body is set
  std::unique_ptr<BodyStream> body;  // the stream, when status is 200
  HttpResponse error_response;       // the whole response, when status is not 200
  ApiStatus error;                   // no response
  bool request_sent = false;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual boost::asio::awaitable<Exchange> RoundTrip(HttpRequest request) = 0;
  // Sends the request and reads the response headers; the body is read through the stream.
  // `idle_timeout` bounds each wait for more of the body.
  virtual boost::asio::awaitable<StreamExchange> OpenStream(
      HttpRequest request, std::chrono::milliseconds idle_timeout) = 0;
  // Uses this client certificate from now on (an exec plugin handed out a new one).
  virtual Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem) = 0;
};

}  // namespace drop::k8s
