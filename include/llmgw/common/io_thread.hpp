#pragma once
// A thread of its own for blocking I/O (SQLite, files) that the event loops must never do.
// `run(f)` is awaited on a worker: f runs on this thread, then the worker's coroutine resumes
// on its own executor with f's result. Work runs in submission order.
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

namespace llmgw::common {

class IoThread {
public:
  IoThread() : guard_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  ~IoThread() { stop(); }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;

  /// Finishes the queued work, then joins.
  void stop() {
    guard_.reset();
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  /// An exception thrown by f (out of memory on a huge row) is rethrown in the caller.
  template <class F>
  auto run(F f) -> boost::asio::awaitable<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    auto initiate = [this](auto handler, F work) {
      auto ex = boost::asio::get_associated_executor(handler);
      auto back = boost::asio::make_work_guard(ex);
      boost::asio::post(io_, [work = std::move(work), handler = std::move(handler),
                              back = std::move(back)]() mutable {
        std::exception_ptr error;
        std::optional<R> result;
        try {
          result.emplace(work());
        } catch (...) {
          error = std::current_exception();
        }
        auto target = back.get_executor();
        boost::asio::post(target, [handler = std::move(handler), error,
                                   result = std::move(result)]() mutable {
          std::move(handler)(error, std::move(result));
        });
      });
    };
    auto op = boost::asio::async_initiate<const boost::asio::use_awaitable_t<>,
                                          void(std::exception_ptr, std::optional<R>)>(
        std::move(initiate), boost::asio::use_awaitable, std::move(f));
    auto out = co_await std::move(op);
    co_return std::move(*out);
  }

private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

}  // namespace llmgw::common
