// Coroutines spawned as one group that their owner can cancel and join: the
// owner's way to know that nothing it started still runs before it is
// destroyed (structured concurrency, as in Boost.Beast's awaitable examples).
//
// spawn() starts a task bound to a cancellation slot of the group. cancel()
// emits a cancellation (terminal by default) to every task still running: the
// asynchronous operation each one awaits completes with operation_aborted.
// Tasks run with throw_if_cancelled off, so a cancelled task sees an error
// code, never an exception, and can finish its bookkeeping. join_until()
// completes when no task is left, at the deadline, or when the joining
// coroutine is itself cancelled; it tells which.
//
// Thread and lifetime contract: every member is called on the group's
// single-threaded executor. The group must outlive its tasks: its owner joins
// it before destroying it (the destructor does not wait; destroying a group
// with running tasks is a broken invariant and aborts in debug builds).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <exception>
#include <list>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ocirelay {

class TaskGroup {
 public:
  using Clock = std::chrono::steady_clock;
  // Called with the exception that ended a task (a bug: tasks report errors
  // with error codes) and the task's name.
  using ExceptionHandler = std::function<void(std::exception_ptr, const std::string&)>;

  TaskGroup(boost::asio::any_io_executor executor, ExceptionHandler on_exception);
  ~TaskGroup();
  TaskGroup(const TaskGroup&) = delete;
  TaskGroup& operator=(const TaskGroup&) = delete;

  void spawn(boost::asio::awaitable<void> task, std::string name);

  // Emits `type` to every running task. Tasks spawned later are not affected.
  void cancel(boost::asio::cancellation_type type = boost::asio::cancellation_type::terminal);

  // Waits until no task runs, the deadline passes, or the caller is
  // cancelled. True when no task runs.
  boost::asio::awaitable<bool> join_until(Clock::time_point deadline);

  std::size_t size() const noexcept { return tasks_.size(); }
  bool empty() const noexcept { return tasks_.empty(); }

 private:
  struct Task {
    boost::asio::cancellation_signal signal;
    std::string name;
    bool done = false;  // completed; forgotten once its last step is over
  };
  void finished(std::list<Task>::iterator task, std::exception_ptr e);

  boost::asio::any_io_executor executor_;
  ExceptionHandler on_exception_;
  std::list<Task> tasks_;
  std::list<boost::asio::steady_timer*> joiners_;  // each join_until's timer
};

}  // namespace ocirelay
