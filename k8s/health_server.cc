#include "k8s/health_server.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>

namespace drop::k8s {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

Result<tcp::endpoint> ParseBindAddress(const std::string& text, const std::string& flag) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(flag + " \"" + text + "\": " + why +
                                   "; use :PORT, HOST:PORT or [IPv6]:PORT");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return bad("no port");
  std::string host = text.substr(0, colon), port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return bad("the port is not a number from 0 to 65535");
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  asio::ip::address address = asio::ip::address_v4::any();
  if (!host.empty()) {
    boost::system::error_code error;
    address = asio::ip::make_address(host, error);
    if (error) {
      // A host name, e.g. localhost: one of its addresses, IPv4 first, as Go's net.Listen does.
      asio::io_context io;
      tcp::resolver::results_type found = tcp::resolver(io).resolve(host, "", error);
      if (error || found.empty()) {
        return bad("\"" + host + "\" is neither an IP address nor a host name this machine knows" +
                   (error ? " (" + error.message() + ")" : ""));
      }
      auto v4 = std::find_if(found.begin(), found.end(),
                             [](const auto& r) { return r.endpoint().address().is_v4(); });
      address = (v4 != found.end() ? *v4 : *found.begin()).endpoint().address();
    }
  }
  return tcp::endpoint(address, static_cast<uint16_t>(port));
}

namespace {

asio::awaitable<void> Serve(tcp::socket socket, HealthServer::Check live,
                            HealthServer::WhyNot not_ready) {
  beast::flat_buffer buffer;
  while (true) {
    http::request<http::empty_body> request;
    auto [error, n] =
        co_await http::async_read(socket, buffer, request, asio::as_tuple(asio::use_awaitable));
    if (error) co_return;
    http::response<http::string_body> response;
    response.version(request.version());
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    std::string_view target = request.target();
    target = target.substr(0, target.find('?'));
    if (target == "/healthz" || target == "/livez") {
      bool ok = live();
      response.result(ok ? http::status::ok : http::status::service_unavailable);
      response.body() = ok ? "ok\n" : "the event loop has stopped\n";
    } else if (target == "/readyz") {
      std::string why = not_ready();
      response.result(why.empty() ? http::status::ok : http::status::service_unavailable);
      response.body() = why.empty() ? "ok\n" : "not ready: " + why + "\n";
    } else {
      response.result(http::status::not_found);
      response.body() = "not found: try /healthz or /readyz\n";
    }
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    auto [write_error, m] =
        co_await http::async_write(socket, response, asio::as_tuple(asio::use_awaitable));
    if (write_error || !response.keep_alive()) co_return;
  }
}

asio::awaitable<void> Accept(tcp::acceptor& acceptor, HealthServer::Check live,
                             HealthServer::WhyNot not_ready) {
  while (true) {
    auto [error, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (error == asio::error::operation_aborted) co_return;
    if (error) continue;
    asio::co_spawn(acceptor.get_executor(), Serve(std::move(socket), live, not_ready),
                   asio::detached);
  }
}

}  // namespace

Result<std::unique_ptr<HealthServer>> HealthServer::Start(const tcp::endpoint& endpoint, Check live,
                                                          WhyNot not_ready) {
  std::unique_ptr<HealthServer> server(new HealthServer());
  server->live_ = std::move(live);
  server->not_ready_ = std::move(not_ready);
  boost::system::error_code error;
  auto acceptor = std::make_unique<tcp::acceptor>(server->io_);
  acceptor->open(endpoint.protocol(), error);
  if (!error) acceptor->set_option(tcp::acceptor::reuse_address(true), error);
  if (!error) acceptor->bind(endpoint, error);
  if (!error) acceptor->listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return Status::Unavailable("health probes: cannot listen on " + endpoint.address().to_string() +
                               ":" + std::to_string(endpoint.port()) + ": " + error.message() +
                               "; choose another --health-probe-bind-address");
  }
  server->port_ = acceptor->local_endpoint().port();
  server->acceptor_ = std::move(acceptor);
  asio::co_spawn(server->io_, Accept(*server->acceptor_, server->live_, server->not_ready_),
                 asio::detached);
  server->thread_ = std::thread([s = server.get()] { s->io_.run(); });
  return server;
}

HealthServer::~HealthServer() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  });
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace drop::k8s
