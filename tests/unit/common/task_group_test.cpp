// TaskGroup: tasks are joined, cancelled with an error code (never an
// exception), and several joiners may wait at once. Runs on a real
// io_context; the long waits are timers that only cancellation ends.
#include <catch2/catch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "ocirelay/common/task_group.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;
using ocirelay::TaskGroup;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

// Waits `d` on a timer; records how the wait ended.
asio::awaitable<void> wait_for(std::chrono::steady_clock::duration d, int& aborted, int& done) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  t.expires_after(d);
  auto [ec] = co_await t.async_wait(nothrow);
  if (ec == asio::error::operation_aborted) ++aborted;
  // A cancelled task may still await: throw_if_cancelled is off.
  asio::steady_timer after(co_await asio::this_coro::executor);
  after.expires_after(1ms);
  co_await after.async_wait(nothrow);
  ++done;
}

// (A coroutine's parameters live in its frame; a capturing lambda called on
// the spot would leave the frame with dangling captures.)
asio::awaitable<void> join_for_an_hour(TaskGroup& group, bool& result, int& returned) {
  result = co_await group.join_until(std::chrono::steady_clock::now() + 1h);
  ++returned;
}

asio::awaitable<void> throw_broken_invariant() {
  throw std::runtime_error("broken invariant");
  co_return;
}

TaskGroup::ExceptionHandler count_exceptions(int& n) {
  return [&n](std::exception_ptr, const std::string&) { ++n; };
}

}  // namespace

TEST_CASE("a joined group has run every task to its end", "[task_group]") {
  asio::io_context io;
  int exceptions = 0, aborted = 0, done = 0;
  TaskGroup group(io.get_executor(), count_exceptions(exceptions));
  for (int i = 0; i < 5; ++i) group.spawn(wait_for(std::chrono::milliseconds(i), aborted, done), "t");
  CHECK(group.size() == 5);
  bool joined = false;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    joined = co_await group.join_until(std::chrono::steady_clock::now() + 1h);
  }, asio::detached);
  io.run();  // returns: nothing is left, the hour-long join included
  CHECK(joined);
  CHECK(done == 5);
  CHECK(aborted == 0);
  CHECK(group.empty());
  CHECK(exceptions == 0);
}

TEST_CASE("cancel() ends waiting tasks with operation_aborted, not an exception", "[task_group]") {
  asio::io_context io;
  int exceptions = 0, aborted = 0, done = 0;
  TaskGroup group(io.get_executor(), count_exceptions(exceptions));
  for (int i = 0; i < 3; ++i) group.spawn(wait_for(1h, aborted, done), "t");
  bool first = false, second = true;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    // Past its deadline with the tasks still waiting: false.
    second = co_await group.join_until(std::chrono::steady_clock::now() + 10ms);
    group.cancel();
    first = co_await group.join_until(std::chrono::steady_clock::now() + 1h);
  }, asio::detached);
  io.run();
  CHECK_FALSE(second);
  CHECK(first);
  CHECK(aborted == 3);
  CHECK(done == 3);
  CHECK(exceptions == 0);
}

TEST_CASE("several joiners wait at once and a cancelled joiner returns at once", "[task_group]") {
  asio::io_context io;
  int exceptions = 0, aborted = 0, done = 0;
  TaskGroup group(io.get_executor(), count_exceptions(exceptions));
  group.spawn(wait_for(1h, aborted, done), "long");

  TaskGroup joiners(io.get_executor(), count_exceptions(exceptions));
  int returned = 0;
  bool cancelled_result = true;
  joiners.spawn(join_for_an_hour(group, cancelled_result, returned), "cancelled joiner");
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer t(io);
    t.expires_after(5ms);
    co_await t.async_wait(nothrow);
    joiners.cancel();  // the joiner gives up; the task still runs
    co_await t.async_wait(nothrow);
    CHECK(returned == 1);
    CHECK(group.size() == 1);
    group.cancel();
    const bool ok = co_await group.join_until(std::chrono::steady_clock::now() + 1h);
    CHECK(ok);
    ++returned;
  }, asio::detached);
  io.run();
  CHECK(returned == 2);
  CHECK_FALSE(cancelled_result);
  CHECK(aborted == 1);
  CHECK(exceptions == 0);
}

TEST_CASE("an exception that ends a task is reported with the task's name", "[task_group]") {
  asio::io_context io;
  std::string name;
  TaskGroup group(io.get_executor(), [&](std::exception_ptr e, const std::string& task) {
    name = task;
    CHECK(e != nullptr);
  });
  group.spawn(throw_broken_invariant(), "thrower");
  io.run();
  CHECK(name == "thrower");
  CHECK(group.empty());
}
