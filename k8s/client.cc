#include "k8s/client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "k8s/json_util.h"

#ifndef DROP_VERSION
#define DROP_VERSION "0.0.0"
#endif

namespace drop::k8s {

namespace asio = boost::asio;
namespace json = boost::json;

const char* const kDropVersion = DROP_VERSION;

namespace {

constexpr auto kUse = asio::as_tuple(asio::use_awaitable);

std::string PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kJsonPatch:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

RequestInfo Info(std::string verb, const Resource& r, std::string ns, std::string name,
                 std::string subresource) {
  RequestInfo info;
  info.verb = std::move(verb);
  info.group = std::string(r.group);
  info.resource = std::string(r.plural);
  info.subresource = std::move(subresource);
  info.namespace_ = r.namespaced ? std::move(ns) : std::string();
  info.name = std::move(name);
  return info;
}

void AddQuery(std::string* target, std::string_view key, const std::string& value) {
  if (value.empty()) return;
  target->push_back(target->find('?') == std::string::npos ? '?' : '&');
  target->append(key).push_back('=');
  target->append(QueryEscape(value));
}

}  // namespace

ApiResult<json::object> ParseObject(const RequestInfo& info, std::string_view body,
                                    const JsonSelection* selection) {
  json::error_code ec;
  json::value v = SelectiveParser::Parse(body, selection, ec);
  if (ec || !v.is_object()) {
    return ApiStatus::NoResponse(kReasonConnectionError, info.Describe() +
                                                             ": the response is not a JSON object" +
                                                             (ec ? " (" + ec.message() + ")" : ""));
  }
  return std::move(v.as_object());
}

Client::Client(asio::any_io_executor executor, std::shared_ptr<Transport> transport,
               const Config& config, ClientOptions options)
    : executor_(std::move(executor)),
      transport_(std::move(transport)),
      config_(config),
      options_(std::move(options)),
      user_agent_(std::string("drop/") + kDropVersion + " (" +
                  (options_.identity.empty() ? "unknown" : options_.identity) + ")"),
      credentials_(std::make_unique<Credentials>(executor_, config_, options_.credentials)),
      limiter_(options_.qps, options_.burst) {}

Result<std::shared_ptr<Client>> Client::Create(asio::any_io_executor executor, const Config& config,
                                               ClientOptions options) {
  Result<std::shared_ptr<HttpTransport>> transport =
      HttpTransport::Create(executor, config, options.transport);
  if (!transport.ok()) return transport.status();
  return CreateWithTransport(std::move(executor), std::move(*transport), config,
                             std::move(options));
}

std::shared_ptr<Client> Client::CreateWithTransport(asio::any_io_executor executor,
                                                    std::shared_ptr<Transport> transport,
                                                    const Config& config, ClientOptions options) {
  return std::shared_ptr<Client>(
      new Client(std::move(executor), std::move(transport), config, std::move(options)));
}

ClientStats Client::stats() const {
  ClientStats s;
  s.requests = requests_.load();
  s.retries = retries_.load();
  s.too_many_requests = too_many_requests_.load();
  s.server_errors = server_errors_.load();
  s.connection_errors = connection_errors_.load();
  s.unauthorized = unauthorized_.load();
  return s;
}

asio::awaitable<void> Client::Sleep(std::chrono::steady_clock::duration d) {
  if (d <= std::chrono::steady_clock::duration::zero()) co_return;
  asio::steady_timer timer(executor_, d);
  co_await timer.async_wait(kUse);
}

void Client::StopRetrying() {
  stopping_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    for (asio::steady_timer* t : self->pausing_)
      t->cancel();
  });
}

asio::awaitable<bool> Client::PauseToRetry(const ApiStatus& error, std::chrono::milliseconds d) {
  if (stopping_) co_return false;
  ++retries_;
  if (options_.on_retry) options_.on_retry(error, d);
  asio::steady_timer timer(executor_, d);
  // On the list while it waits, and off it however the wait ends (the frame may be destroyed
  // while suspended), so StopRetrying never reaches a timer that is gone.
  struct Listed {
    std::set<asio::steady_timer*>& timers;
    asio::steady_timer* timer;
    ~Listed() { timers.erase(timer); }
  } listed{pausing_, &timer};
  pausing_.insert(&timer);
  co_await timer.async_wait(kUse);
  co_return !stopping_;
}

asio::awaitable<void> Client::Throttle() {
  co_await Sleep(limiter_.Reserve(std::chrono::steady_clock::now()));
}

asio::awaitable<Result<std::string>> Client::Authorization() {
  Result<Credential> c = co_await credentials_->Get();
  if (!c.ok()) co_return c.status();
  if (c->client_cert_pem != client_cert_pem_) {
    if (Status s = transport_->SetClientCertificate(c->client_cert_pem, c->client_key_pem);
        !s.ok()) {
      co_return s;
    }
    client_cert_pem_ = c->client_cert_pem;
  }
  co_return c->authorization;
}

std::chrono::milliseconds Client::RetryAfter(const std::string& header, Backoff& backoff) const {
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(header.data(), header.data() + header.size(), seconds);
  if (ec != std::errc() || end != header.data() + header.size() || seconds < 0) {
    return backoff.Next();
  }
  return std::min(std::chrono::milliseconds(seconds * 1000), options_.max_retry_after);
}

asio::awaitable<ApiResult<std::string>> Client::Call(RequestSpec spec) {
  auto self = shared_from_this();
  Backoff backoff(options_.retry_backoff);
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    co_await Throttle();
    Result<std::string> authorization = co_await Authorization();
    if (!authorization.ok()) {
      co_return ApiStatus::NoResponse(
          kReasonUnauthorized, spec.info.Describe() + ": " + authorization.status().message());
    }
    HttpRequest request;
    request.method = spec.method;
    request.target = spec.target;
    request.body = spec.body;
    request.content_type = spec.content_type;
    request.authorization = std::move(*authorization);
    request.user_agent = user_agent_;
    request.idempotent = spec.idempotent;
    request.timeout = options_.timeout;
    ++requests_;
    Exchange ex = co_await transport_->RoundTrip(std::move(request));
    std::chrono::milliseconds wait;
    ApiStatus error;
    if (!ex.error.ok()) {
      ++connection_errors_;
      // Not sent at all: safe to send. Sent: only if sending it twice does no harm.
      // A certificate that does not verify will not verify next time either.
      bool may_retry =
          (spec.idempotent || !ex.request_sent) && ex.error.reason() != kReasonTlsError;
      if (!may_retry || attempt >= options_.max_retries) {
        std::string note;
        if (attempt > 0) note = " (after " + std::to_string(attempt + 1) + " attempts)";
        if (ex.request_sent && !spec.idempotent) {
          note = " (not retried: the server may have applied it)";
        }
        co_return ApiStatus::NoResponse(ex.error.reason(),
                                        spec.info.Describe() + ": " + ex.error.message() + note);
      }
      wait = backoff.Next();
      error = ApiStatus::NoResponse(ex.error.reason(),
                                    spec.info.Describe() + ": " + ex.error.message());
    } else {
      const int code = ex.response.status;
      if (code >= 200 && code < 300) co_return std::move(ex.response.body);
      if (code == 401) {
        ++unauthorized_;
        if (!refreshed && credentials_->Refreshable()) {
          // The token rotated or expired under us: fetch a new one and try once more.
          refreshed = true;
          credentials_->Invalidate();
          continue;
        }
      }
      if (code == 429) ++too_many_requests_;
      if (code >= 500) ++server_errors_;
      bool retry = code == 429 || (code >= 500 && code != 501 && spec.idempotent);
      if (!retry || attempt >= options_.max_retries) {
        co_return ApiStatusFromResponse(spec.info, code, ex.response.body);
      }
      wait = RetryAfter(ex.response.retry_after, backoff);
      error = ApiStatusFromResponse(spec.info, code, ex.response.body);
    }
    if (!co_await PauseToRetry(error, wait)) co_return error;
  }
}

asio::awaitable<ApiResult<json::object>> Client::Get(Resource resource, std::string ns,
                                                     std::string name, std::string subresource) {
  RequestSpec spec;
  spec.info = Info("get", resource, ns, name, subresource);
  spec.method = "GET";
  spec.target = resource.Path(ns, name, subresource);
  spec.idempotent = true;
  RequestInfo info = spec.info;
  ApiResult<std::string> body = co_await Call(std::move(spec));
  if (!body.ok()) co_return body.status();
  co_return ParseObject(info, *body);
}

asio::awaitable<ApiResult<ListPage>> Client::List(Resource resource, std::string ns,
                                                  ListOptions options) {
  RequestSpec spec;
  spec.info = Info("list", resource, ns, "", "");
  spec.method = "GET";
  spec.target = resource.Path(ns);
  if (options.limit > 0) AddQuery(&spec.target, "limit", std::to_string(options.limit));
  AddQuery(&spec.target, "continue", options.continue_token);
  AddQuery(&spec.target, "labelSelector", options.label_selector);
  AddQuery(&spec.target, "fieldSelector", options.field_selector);
  AddQuery(&spec.target, "resourceVersion", options.resource_version);
  spec.idempotent = true;
  RequestInfo info = spec.info;
  ApiResult<std::string> body = co_await Call(std::move(spec));
  if (!body.ok()) co_return body.status();
  ApiResult<json::object> list = ParseObject(info, *body, options.selection);
  if (!list.ok()) co_return list.status();
  ListPage page;
  const json::object* meta = GetObject(*list, "metadata");
  page.resource_version = GetString(meta, "resourceVersion");
  page.continue_token = GetString(meta, "continue");
  if (json::value* items = list->if_contains("items"); items != nullptr && items->is_array()) {
    page.items = std::move(items->as_array());
  }
  co_return page;
}

asio::awaitable<ApiResult<std::unique_ptr<WatchStream>>> Client::Watch(Resource resource,
                                                                       std::string ns,
                                                                       WatchOptions options) {
  auto self = shared_from_this();
  RequestInfo info = Info("watch", resource, ns, "", "");
  std::string target = resource.Path(ns) + "?watch=true";
  if (options.allow_bookmarks) target += "&allowWatchBookmarks=true";
  AddQuery(&target, "resourceVersion", options.resource_version);
  if (options.timeout_seconds > 0) {
    AddQuery(&target, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  AddQuery(&target, "labelSelector", options.label_selector);
  AddQuery(&target, "fieldSelector", options.field_selector);
  Backoff backoff(options_.retry_backoff);
  bool refreshed = false;
  for (int attempt = 0;; ++attempt) {
    co_await Throttle();
    Result<std::string> authorization = co_await Authorization();
    if (!authorization.ok()) {
      co_return ApiStatus::NoResponse(kReasonUnauthorized,
                                      info.Describe() + ": " + authorization.status().message());
    }
    HttpRequest request;
    request.method = "GET";
    request.target = target;
    request.authorization = std::move(*authorization);
    request.user_agent = user_agent_;
    request.idempotent = true;
    request.timeout = options_.timeout;
    ++requests_;
    StreamExchange ex = co_await transport_->OpenStream(std::move(request), options.idle_timeout);
    if (!ex.error.ok()) {
      ++connection_errors_;
      co_return ApiStatus::NoResponse(ex.error.reason(),
                                      info.Describe() + ": " + ex.error.message());
    }
    if (ex.status == 200) {
      co_return std::make_unique<WatchStream>(std::move(ex.body), options.selection);
    }
    if (ex.status == 401) {
      ++unauthorized_;
      if (!refreshed && credentials_->Refreshable()) {
        refreshed = true;
        credentials_->Invalidate();
        continue;
      }
    }
    if (ex.status >= 500) ++server_errors_;
    if (ex.status != 429 || attempt >= options_.max_retries) {
      co_return ApiStatusFromResponse(info, ex.status, ex.error_response.body);
    }
    ++too_many_requests_;
    ApiStatus error = ApiStatusFromResponse(info, ex.status, ex.error_response.body);
    if (!co_await PauseToRetry(error, RetryAfter(ex.error_response.retry_after, backoff))) {
      co_return error;
    }
  }
}

asio::awaitable<ApiResult<json::object>> Client::Create(Resource resource, std::string ns,
                                                        json::object object, bool idempotent) {
  if (!object.contains("apiVersion")) object["apiVersion"] = resource.ApiVersion();
  if (!object.contains("kind")) object["kind"] = resource.kind;
  RequestSpec spec;
  spec.info = Info("create", resource, ns, std::string(NameOf(object)), "");
  spec.method = "POST";
  spec.target = resource.Path(ns);
  spec.body = json::serialize(object);
  spec.content_type = "application/json";
  spec.idempotent = idempotent;
  RequestInfo info = spec.info;
  ApiResult<std::string> body = co_await Call(std::move(spec));
  if (!body.ok()) co_return body.status();
  co_return ParseObject(info, *body);
}

asio::awaitable<ApiResult<json::object>> Client::Update(Resource resource, std::string ns,
                                                        std::string name, std::string subresource,
                                                        json::object object) {
  if (!object.contains("apiVersion")) object["apiVersion"] = resource.ApiVersion();
  if (!object.contains("kind")) object["kind"] = resource.kind;
  RequestSpec spec;
  spec.info = Info("update", resource, ns, name, subresource);
  spec.method = "PUT";
  spec.target = resource.Path(ns, name, subresource);
  spec.body = json::serialize(object);
  spec.content_type = "application/json";
  spec.idempotent = true;  // a replacement: twice is once (and with a resourceVersion, a Conflict)
  RequestInfo info = spec.info;
  ApiResult<std::string> body = co_await Call(std::move(spec));
  if (!body.ok()) co_return body.status();
  co_return ParseObject(info, *body);
}

asio::awaitable<ApiResult<json::object>> Client::Patch(Resource resource, std::string ns,
                                                       std::string name, std::string subresource,
                                                       PatchType type, std::string patch) {
  RequestSpec spec;
  spec.info = Info("patch", resource, ns, name, subresource);
  spec.method = "PATCH";
  spec.target = resource.Path(ns, name, subresource);
  spec.body = std::move(patch);
  spec.content_type = PatchContentType(type);
  // Merge patches set values; a JSON patch may add to lists, so it is not repeated.
  spec.idempotent = type != PatchType::kJsonPatch;
  RequestInfo info = spec.info;
  ApiResult<std::string> body = co_await Call(std::move(spec));
  if (!body.ok()) co_return body.status();
  co_return ParseObject(info, *body);
}

asio::awaitable<ApiResult<json::object>> Client::Delete(Resource resource, std::string ns,
                                                        std::string name, DeleteOptions options) {
  json::object body{{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.uid.empty() || !options.resource_version.empty()) {
    json::object pre;
    if (!options.uid.empty()) pre["uid"] = options.uid;
    if (!options.resource_version.empty()) pre["resourceVersion"] = options.resource_version;
    body["preconditions"] = std::move(pre);
  }
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  RequestSpec spec;
  spec.info = Info("delete", resource, ns, name, "");
  spec.method = "DELETE";
  spec.target = resource.Path(ns, name);
  spec.body = json::serialize(body);
  spec.content_type = "application/json";
  spec.idempotent = true;  // a repeat finds nothing (404) or a newer object (precondition)
  RequestInfo info = spec.info;
  ApiResult<std::string> response = co_await Call(std::move(spec));
  if (!response.ok()) co_return response.status();
  co_return ParseObject(info, *response);
}

}  // namespace drop::k8s
