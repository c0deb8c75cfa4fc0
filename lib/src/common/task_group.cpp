#include "ocirelay/common/task_group.hpp"

#include <cassert>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ocirelay {

namespace asio = boost::asio;

namespace {

// Cancellation reaches a task as error codes: an exception would skip the
// bookkeeping a cancelled task still does (recording that it was aborted).
asio::awaitable<void> without_cancellation_exceptions(asio::awaitable<void> task) {
  co_await asio::this_coro::throw_if_cancelled(false);
  co_await std::move(task);
}

}  // namespace

TaskGroup::TaskGroup(asio::any_io_executor executor, ExceptionHandler on_exception)
    : executor_(std::move(executor)), on_exception_(std::move(on_exception)) {}

TaskGroup::~TaskGroup() {
  // The owner joins before it goes: a task left running would resume into a
  // destroyed owner.
  assert(tasks_.empty());
}

void TaskGroup::spawn(asio::awaitable<void> task, std::string name) {
  auto it = tasks_.emplace(tasks_.end());
  it->name = std::move(name);
  asio::co_spawn(executor_, without_cancellation_exceptions(std::move(task)),
                 asio::bind_cancellation_slot(it->signal.slot(), [this, it](std::exception_ptr e) {
                   // This handler runs inside the task's last step, which still
                   // uses the cancellation slot: forget the task once that step
                   // is over.
                   it->done = true;
                   asio::post(executor_, [this, it, e] { finished(it, e); });
                 }));
}

void TaskGroup::cancel(asio::cancellation_type type) {
  for (auto& task : tasks_) {
    if (!task.done) task.signal.emit(type);
  }
}

void TaskGroup::finished(std::list<Task>::iterator task, std::exception_ptr e) {
  if (e && on_exception_) on_exception_(e, task->name);
  tasks_.erase(task);
  if (tasks_.empty()) {
    for (auto* timer : joiners_) timer->cancel();
  }
}

asio::awaitable<bool> TaskGroup::join_until(Clock::time_point deadline) {
  asio::steady_timer timer(executor_);
  auto me = joiners_.insert(joiners_.end(), &timer);
  struct Leave {
    std::list<asio::steady_timer*>& joiners;
    std::list<asio::steady_timer*>::iterator me;
    ~Leave() { joiners.erase(me); }
  } leave{joiners_, me};
  while (!tasks_.empty() && Clock::now() < deadline) {
    timer.expires_at(deadline);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) break;
  }
  co_return tasks_.empty();
}

}  // namespace ocirelay
