// The client's I/O thread: an io_context run by one thread until the IoThread is destroyed, and
// the two ways other threads start the client's coroutines on it: Spawn (a callback with the
// result, on the I/O thread) and RunSync (block until the result is in).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <exception>
#include <future>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>

namespace drop::k8s {

class IoThread {
 public:
  IoThread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() { Stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  boost::asio::io_context& context() { return io_; }

  // Stops the loop and joins the thread; coroutines still suspended stay so until the io_context
  // is destroyed (their frames keep what they use alive).
  void Stop() {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// Runs `task` on `executor` and calls `done(result)` there when it finishes.
template <typename T, typename F>
void Spawn(const boost::asio::any_io_executor& executor, boost::asio::awaitable<T> task, F done) {
  boost::asio::co_spawn(executor, std::move(task),
                        [done = std::move(done)](std::exception_ptr e, T result) mutable {
                          if (e) std::rethrow_exception(e);  // a bug, not an API error
                          done(std::move(result));
                        });
}

// Starts `task` on `executor`; the future is ready once it has ended.
inline std::future<void> Launch(const boost::asio::any_io_executor& executor,
                                boost::asio::awaitable<void> task) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> ended = done->get_future();
  boost::asio::co_spawn(executor, std::move(task), [done](std::exception_ptr e) {
    done->set_value();
    if (e) std::rethrow_exception(e);  // a bug, not an API error
  });
  return ended;
}

// Runs `task` on `executor` and waits for its result. Never from the executor's own thread.
template <typename T>
T RunSync(const boost::asio::any_io_executor& executor, boost::asio::awaitable<T> task) {
  std::promise<T> promise;
  std::future<T> future = promise.get_future();
  boost::asio::co_spawn(executor, std::move(task), [&promise](std::exception_ptr e, T result) {
    if (e) {
      promise.set_exception(e);
    } else {
      promise.set_value(std::move(result));
    }
  });
  return future.get();
}

}  // namespace drop::k8s
