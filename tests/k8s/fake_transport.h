// A scripted Transport: answers requests in order from a list of responses (or failures) and
// records what it was sent, so the client's retries, credentials and rate limit can be checked
// without a server.
#pragma once

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "k8s/transport.h"

namespace drop::k8s::testing {

struct Scripted {
  int status = 200;
  std::string body = "{}";
  std::string retry_after;
  ApiStatus error;   // set: no response
  bool sent = true;  // with an error: whether the request went out
  size_t chunk = 0;  // for a stream: deliver the body this many bytes at a time (0: at once)
};

inline Scripted Respond(int status, std::string body = "{}", std::string retry_after = "") {
  Scripted s;
  s.status = status;
  s.body = std::move(body);
  s.retry_after = std::move(retry_after);
  return s;
}

inline Scripted Fail(bool sent) {
  Scripted s;
  s.error = ApiStatus::NoResponse(kReasonConnectionError, "connection reset by peer");
  s.sent = sent;
  return s;
}

// A body delivered from a string, `chunk` bytes at a time.
class StringStream : public BodyStream {
 public:
  StringStream(std::string data, size_t chunk) : data_(std::move(data)), chunk_(chunk) {}
  boost::asio::awaitable<ApiResult<size_t>> ReadSome(char* data, size_t size) override {
    if (cancelled_) co_return ApiStatus::NoResponse(kReasonConnectionError, "cancelled");
    size_t n = std::min({size, data_.size() - pos_, chunk_ == 0 ? data_.size() : chunk_});
    std::copy_n(data_.data() + pos_, n, data);
    pos_ += n;
    co_return n;
  }
  void Cancel() override { cancelled_ = true; }

 private:
  std::string data_;
  size_t chunk_;
  size_t pos_ = 0;
  bool cancelled_ = false;
};

class FakeTransport : public Transport {
 public:
  std::deque<Scripted> script;
  std::vector<HttpRequest> requests;
  int certificates_set = 0;

  boost::asio::awaitable<Exchange> RoundTrip(HttpRequest request) override {
    requests.push_back(request);
    Scripted s = Next();
    Exchange ex;
    if (!s.error.ok()) {
      ex.error = s.error;
      ex.request_sent = s.sent;
      co_return ex;
    }
    ex.response.status = s.status;
    ex.response.body = s.body;
    ex.response.retry_after = s.retry_after;
    co_return ex;
  }

  boost::asio::awaitable<StreamExchange> OpenStream(HttpRequest request,
                                                    std::chrono::milliseconds) override {
    requests.push_back(request);
    Scripted s = Next();
    StreamExchange ex;
    if (!s.error.ok()) {
      ex.error = s.error;
      ex.request_sent = s.sent;
      co_return ex;
    }
    ex.status = s.status;
    ex.request_sent = true;
    if (s.status == 200) {
      ex.body = std::make_unique<StringStream>(s.body, s.chunk);
    } else {
      ex.error_response.status = s.status;
      ex.error_response.body = s.body;
      ex.error_response.retry_after = s.retry_after;
    }
    co_return ex;
  }

  Status SetClientCertificate(const std::string&, const std::string&) override {
    ++certificates_set;
    return Status::Ok();
  }

 private:
  Scripted Next() {
    if (script.empty()) return Respond(599, R"({"kind":"Status","message":"script ended"})");
    Scripted s = script.front();
    script.pop_front();
    return s;
  }
};

}  // namespace drop::k8s::testing
