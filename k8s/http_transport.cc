#include "k8s/http_transport.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <charconv>

namespace drop::k8s {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

// Most of an error body worth keeping when a stream is refused.
constexpr size_t kMaxErrorBody = 1 << 20;

bool IsIpAddress(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

ApiStatus Failure(const std::string& what, const error_code& ec) {
  bool timeout = ec == beast::error::timeout;
  return ApiStatus::NoResponse(timeout ? kReasonTimeout : kReasonConnectionError,
                               what + ": " + (timeout ? "timed out" : ec.message()));
}

http::verb Verb(const std::string& method) {
  http::verb v = http::string_to_verb(method);
  return v == http::verb::unknown ? http::verb::get : v;
}

}  // namespace

struct HttpTransport::Connection {
  Connection(const asio::any_io_executor& executor, std::shared_ptr<ssl::context> ctx)
      : context(std::move(ctx)), stream(executor, *context) {}

  std::shared_ptr<ssl::context> context;  // outlives the stream that refers to it
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::chrono::steady_clock::time_point idle_since;

  bool open() { return beast::get_lowest_layer(stream).socket().is_open(); }
};

namespace {

// A response body read as it arrives (a watch). Hands its connection back to the pool when the
// body ended cleanly and the server keeps the connection alive.
class HttpBodyStream : public BodyStream {
 public:
  HttpBodyStream(std::weak_ptr<HttpTransport> owner,
                 std::unique_ptr<HttpTransport::Connection> connection,
                 std::chrono::milliseconds idle_timeout, std::string peer)
      : owner_(std::move(owner)),
        connection_(std::move(connection)),
        idle_timeout_(idle_timeout),
        peer_(std::move(peer)) {
    parser_.body_limit(boost::none);  // a watch goes on for minutes
  }

  ~HttpBodyStream() override {
    if (!cancelled_ && parser_.is_done() && parser_.get().keep_alive() && connection_->open()) {
      if (auto owner = owner_.lock()) owner->Release(std::move(connection_));
    }
  }

  http::response_parser<http::buffer_body>& parser() { return parser_; }
  HttpTransport::Connection& connection() { return *connection_; }

  asio::awaitable<ApiResult<size_t>> ReadSome(char* data, size_t size) override {
    auto& tcp = beast::get_lowest_layer(connection_->stream);
    while (true) {
      if (cancelled_) co_return ApiStatus::NoResponse(kReasonConnectionError, "stream cancelled");
      if (parser_.is_done()) co_return size_t{0};
      parser_.get().body().data = data;
      parser_.get().body().size = size;
      tcp.expires_after(idle_timeout_);
      auto [ec, n] =
          co_await http::async_read_some(connection_->stream, connection_->buffer, parser_, kUse);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        co_return Failure(
            cancelled_ ? "stream from " + peer_ + " cancelled" : "stream from " + peer_ + " broke",
            ec);
      }
      size_t got = size - parser_.get().body().size;
      if (got > 0) co_return got;
    }
  }

  void Cancel() override {
    cancelled_ = true;
    error_code ignored;
    beast::get_lowest_layer(connection_->stream).socket().close(ignored);
  }

 private:
  std::weak_ptr<HttpTransport> owner_;
  std::unique_ptr<HttpTransport::Connection> connection_;
  http::response_parser<http::buffer_body> parser_;
  std::chrono::milliseconds idle_timeout_;
  std::string peer_;
  bool cancelled_ = false;
};

http::request<http::string_body> BuildRequest(const HttpRequest& r, const ServerAddress& address) {
  http::request<http::string_body> req{Verb(r.method), address.path_prefix + r.target, 11};
  bool v6 = address.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + address.host + "]" : address.host) + ":" + address.port);
  req.set(http::field::user_agent, r.user_agent);
  req.set(http::field::accept, "application/json");
  if (!r.authorization.empty()) req.set(http::field::authorization, r.authorization);
  if (!r.content_type.empty()) req.set(http::field::content_type, r.content_type);
  req.keep_alive(true);
  req.body() = r.body;
  req.prepare_payload();
  return req;
}

}  // namespace

Result<ServerAddress> ParseServerUrl(const std::string& url) {
  constexpr std::string_view kScheme = "https://";
  if (url.rfind(kScheme, 0) != 0) {
    return Status::InvalidArgument("server " + RedactUrl(url) + ": not an https:// URL");
  }
  std::string rest = url.substr(kScheme.size());
  ServerAddress a;
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos) {
    // Not echoed: what comes before the '@' may be a password.
    return Status::InvalidArgument(
        "the server URL carries user information (user:password@host); a kubeconfig gives "
        "credentials in its user entry, not in the cluster's server");
  }
  if (slash != std::string::npos) {
    a.path_prefix = rest.substr(slash);
    while (!a.path_prefix.empty() && a.path_prefix.back() == '/')
      a.path_prefix.pop_back();
  }
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos)
      return Status::InvalidArgument("server " + RedactUrl(url) + ": bad IPv6 host");
    a.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      a.port = authority.substr(close + 2);
  } else {
    size_t colon = authority.rfind(':');
    a.host = authority.substr(0, colon);
    if (colon != std::string::npos) a.port = authority.substr(colon + 1);
  }
  if (a.port.empty()) a.port = "443";
  if (a.host.empty()) return Status::InvalidArgument("server " + RedactUrl(url) + ": no host");
  int port = 0;
  auto [end, error] = std::from_chars(a.port.data(), a.port.data() + a.port.size(), port);
  if (error != std::errc() || end != a.port.data() + a.port.size() || port < 1 || port > 65535) {
    return Status::InvalidArgument("server " + RedactUrl(url) + ": port " + a.port +
                                   " is not a port (1 to 65535)");
  }
  return a;
}

HttpTransport::HttpTransport(asio::any_io_executor executor, Config config, ServerAddress address,
                             HttpTransportOptions options)
    : executor_(std::move(executor)),
      config_(std::move(config)),
      address_(std::move(address)),
      options_(options) {}

HttpTransport::~HttpTransport() = default;

Result<std::shared_ptr<HttpTransport>> HttpTransport::Create(asio::any_io_executor executor,
                                                             const Config& config,
                                                             HttpTransportOptions options) {
  Result<ServerAddress> address = ParseServerUrl(config.server);
  if (!address.ok()) return address.status().Annotate(config.source);
  std::shared_ptr<HttpTransport> t(
      new HttpTransport(std::move(executor), config, std::move(*address), options));
  Result<std::shared_ptr<ssl::context>> context =
      t->MakeContext(config.client_cert_pem, config.client_key_pem);
  if (!context.ok()) return context.status();
  t->context_ = std::move(*context);
  return t;
}

Result<std::shared_ptr<ssl::context>> HttpTransport::MakeContext(const std::string& cert_pem,
                                                                 const std::string& key_pem) const {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  error_code ec;
  if (config_.insecure_skip_tls_verify) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->set_verify_mode(ssl::verify_peer);
    if (!config_.ca_pem.empty()) {
      ctx->add_certificate_authority(asio::buffer(config_.ca_pem), ec);
      if (ec) {
        return Status::InvalidArgument(config_.ca_source + ": not a PEM CA certificate (" +
                                       ec.message() + ")");
      }
    } else {
      ctx->set_default_verify_paths(ec);
      if (ec) return Status::IOError("the system's CA certificates: " + ec.message());
    }
  }
  if (!cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(cert_pem), ec);
    if (ec) {
      return Status::InvalidArgument(config_.source + ": client certificate is not PEM (" +
                                     ec.message() + ")");
    }
    ctx->use_private_key(asio::buffer(key_pem), ssl::context::pem, ec);
    if (ec) {
      return Status::InvalidArgument(config_.source +
                                     ": client key is not a PEM key matching the "
                                     "certificate (" +
                                     ec.message() + ")");
    }
  }
  return ctx;
}

Status HttpTransport::SetClientCertificate(const std::string& cert_pem,
                                           const std::string& key_pem) {
  Result<std::shared_ptr<ssl::context>> context = MakeContext(cert_pem, key_pem);
  if (!context.ok()) return context.status();
  context_ = std::move(*context);
  idle_.clear();  // connections made with the old certificate
  return Status::Ok();
}

std::string HttpTransport::ServerName() const {
  return config_.tls_server_name.empty() ? address_.host : config_.tls_server_name;
}

std::unique_ptr<HttpTransport::Connection> HttpTransport::TakeIdle() {
  auto now = std::chrono::steady_clock::now();
  while (!idle_.empty() &&
         (now - idle_.front()->idle_since > options_.idle_ttl || !idle_.front()->open())) {
    idle_.pop_front();
  }
  if (idle_.empty()) return nullptr;
  std::unique_ptr<Connection> c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void HttpTransport::Release(std::unique_ptr<Connection> connection) {
  if (connection->context != context_ || !connection->open()) return;
  if (idle_.size() >= options_.max_idle_connections) idle_.pop_front();
  connection->idle_since = std::chrono::steady_clock::now();
  idle_.push_back(std::move(connection));
}

asio::awaitable<ApiResult<std::unique_ptr<HttpTransport::Connection>>> HttpTransport::Connect() {
  auto self = shared_from_this();
  const std::string peer = Peer();
  // A name server that does not answer must not hold the request past its connect timeout. The
  // timer's handler may outlive this frame, so what it touches is shared.
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor_);
  asio::steady_timer guard(executor_, options_.connect_timeout);
  guard.async_wait([resolver](error_code ec) {
    if (!ec) resolver->cancel();
  });
  auto [rec, endpoints] = co_await resolver->async_resolve(address_.host, address_.port, kUse);
  guard.cancel();
  if (rec == asio::error::operation_aborted) {
    co_return ApiStatus::NoResponse(
        kReasonTimeout, "resolve " + address_.host + ": no answer within the connect timeout");
  }
  if (rec) co_return Failure("resolve " + address_.host, rec);
  auto c = std::make_unique<Connection>(executor_, context_);
  auto& tcp = beast::get_lowest_layer(c->stream);
  tcp.expires_after(options_.connect_timeout);
  auto [cec, ep] = co_await tcp.async_connect(endpoints, kUse);
  if (cec) co_return Failure("connect to " + peer, cec);
  error_code ignored;
  tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);

  // The name checked in the certificate (OpenSSL's own host or IP check, so a mismatch is
  // reported as such), and sent as SNI unless it is an address.
  SSL* ssl = c->stream.native_handle();
  const std::string name = ServerName();
  if (IsIpAddress(name)) {
    if (!config_.insecure_skip_tls_verify)
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl, name.c_str());
    if (!config_.insecure_skip_tls_verify) SSL_set1_host(ssl, name.c_str());
  }
  auto [hec] = co_await c->stream.async_handshake(ssl::stream_base::client, kUse);
  if (hec) {
    std::string message = "TLS handshake with " + peer + " failed: " + hec.message();
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      message += " (" + std::string(X509_verify_cert_error_string(verify)) +
                 "): the server's certificate must be signed by the CA from " +
                 (config_.ca_source.empty() ? "the system's trust store" : config_.ca_source) +
                 " and name " + name;
    }
    co_return ApiStatus::NoResponse(verify != X509_V_OK            ? kReasonTlsError
                                    : hec == beast::error::timeout ? kReasonTimeout
                                                                   : kReasonConnectionError,
                                    message);
  }
  tcp.expires_never();
  co_return std::move(c);
}

asio::awaitable<HttpTransport::Sent> HttpTransport::Send(const HttpRequest& request, bool reuse) {
  Sent sent;
  sent.connection = reuse ? TakeIdle() : nullptr;
  sent.reused = sent.connection != nullptr;
  if (!sent.reused) {
    ApiResult<std::unique_ptr<Connection>> fresh = co_await Connect();
    if (!fresh.ok()) {
      sent.error = fresh.status();
      co_return sent;
    }
    sent.connection = std::move(*fresh);
  }
  beast::get_lowest_layer(sent.connection->stream).expires_after(request.timeout);
  http::request<http::string_body> req = BuildRequest(request, address_);
  auto [wec, written] = co_await http::async_write(sent.connection->stream, req, kUse);
  if (wec) {
    sent.connection.reset();
    sent.request_sent = written > 0;
    sent.error = Failure("send to " + Peer(), wec);
  }
  co_return sent;
}

asio::awaitable<Exchange> HttpTransport::RoundTrip(HttpRequest request) {
  auto self = shared_from_this();
  for (int attempt = 0;; ++attempt) {
    // A kept-alive connection may have been closed by the server meanwhile; then the request
    // goes once more on a fresh one (if it did not get there, or may safely arrive twice).
    Sent sent = co_await Send(request, attempt == 0);
    if (!sent.connection) {
      if (sent.reused) continue;
      co_return Exchange{{}, sent.error, sent.request_sent};
    }
    std::unique_ptr<Connection> c = std::move(sent.connection);
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    auto [rec, read] = co_await http::async_read(c->stream, c->buffer, parser, kUse);
    if (rec) {
      if (sent.reused && !parser.got_some() && request.idempotent) continue;
      co_return Exchange{{}, Failure("response from " + Peer(), rec), true};
    }
    beast::get_lowest_layer(c->stream).expires_never();
    http::response<http::string_body>& res = parser.get();
    Exchange ex;
    ex.response.status = res.result_int();
    ex.response.retry_after = std::string(res[http::field::retry_after]);
    ex.response.body = std::move(res.body());
    if (res.keep_alive()) Release(std::move(c));
    co_return ex;
  }
}

asio::awaitable<StreamExchange> HttpTransport::OpenStream(HttpRequest request,
                                                          std::chrono::milliseconds idle_timeout) {
  auto self = shared_from_this();
  for (int attempt = 0;; ++attempt) {
    Sent sent = co_await Send(request, attempt == 0);
    StreamExchange ex;
    if (!sent.connection) {
      if (sent.reused) continue;
      ex.error = sent.error;
      ex.request_sent = sent.request_sent;
      co_return ex;
    }
    auto stream = std::make_unique<HttpBodyStream>(weak_from_this(), std::move(sent.connection),
                                                   idle_timeout, Peer());
    auto [hec, read] = co_await http::async_read_header(
        stream->connection().stream, stream->connection().buffer, stream->parser(), kUse);
    if (hec) {
      if (sent.reused && !stream->parser().got_some() && request.idempotent) continue;
      ex.error = Failure("response from " + Peer(), hec);
      ex.request_sent = true;
      co_return ex;
    }
    beast::get_lowest_layer(stream->connection().stream).expires_never();
    ex.status = stream->parser().get().result_int();
    ex.request_sent = true;
    if (ex.status == 200) {
      ex.body = std::move(stream);
      co_return ex;
    }
    // Refused: read the (small) body, a metav1.Status saying why.
    ex.error_response.status = ex.status;
    ex.error_response.retry_after = std::string(stream->parser().get()[http::field::retry_after]);
    char buf[8192];
    while (ex.error_response.body.size() < kMaxErrorBody) {
      ApiResult<size_t> n = co_await stream->ReadSome(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      ex.error_response.body.append(buf, *n);
    }
    co_return ex;
  }
}

}  // namespace drop::k8s
