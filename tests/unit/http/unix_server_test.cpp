// http::Server on a Unix domain socket (ServerOptions::unix_path): the socket
// file's mode and lifetime, stale and busy sockets, and requests over it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "admin/admin_client.hpp"
#include "ocirelay/common/json_escape.hpp"
#include "ocirelay/http/server.hpp"
#include "ocirelay/log/logging.hpp"
#include "support/temp_dir.hpp"

using namespace ocirelay;
using namespace std::chrono_literals;
using ocirelay::test::TempDir;

namespace {

class EchoHandler final : public http::Handler {
 public:
  boost::asio::awaitable<http::Response> handle(http::Request request) override {
    co_return http::json_response(200, "{\"target\":\"" + json_escape(request.target) +
                                           "\",\"remote\":\"" + json_escape(request.remote) +
                                           "\"}");
  }
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode;
}

// A server on `path` run by its own thread until destruction.
class RunningServer {
 public:
  explicit RunningServer(const std::string& path) {
    http::ServerOptions options;
    options.unix_path = path;
    auto created = http::Server::create(io_.get_executor(), options, handler_,
                                        log::stderr_logger("unix-test", "warn"));
    if (!created) {
      error_ = created.error();
      return;
    }
    server_ = std::move(created).value();
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RunningServer() { stop(); }

  void stop() {
    if (thread_.joinable()) {
      boost::asio::post(io_, [this] { server_->stop(); });
      guard_.reset();
      thread_.join();
    }
  }
  http::Server* server() const { return server_.get(); }
  const std::string& error() const { return error_; }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_{
      io_.get_executor()};
  EchoHandler handler_;
  std::unique_ptr<http::Server> server_;
  std::string error_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("a Unix socket server answers, with mode 0660 whatever the umask", "[http][unix]") {
  TempDir dir;
  const std::string path = dir.file("run/deeper/admin.sock");
  const mode_t old_umask = ::umask(0);  // would leave the socket 0777
  RunningServer running(path);
  ::umask(old_umask);
  REQUIRE(running.error().empty());
  CHECK(running.server()->local_address() == "unix:" + path);
  CHECK(running.server()->port() == 0);
  CHECK(S_ISSOCK(mode_of(path)));
  CHECK((mode_of(path) & 07777) == 0660);
  CHECK((mode_of(dir.file("run/deeper")) & 07777) == 0750);

  admin::AdminClient client(path, 5s);
  auto reply = client.request("GET", "/v1/anything?x=1");
  REQUIRE(reply.ok());
  CHECK(reply->status == 200);
  CHECK(reply->body.find("\"target\":\"/v1/anything?x=1\"") != std::string::npos);
  CHECK(reply->body.find("\"remote\":\"unix:uid=" + std::to_string(::getuid()) +
                         ",pid=" + std::to_string(::getpid()) + "\"") != std::string::npos);

  running.stop();
  CHECK_FALSE(std::filesystem::exists(path));  // removed at stop
  auto after = client.request("GET", "/");
  REQUIRE_FALSE(after.ok());
  CHECK(after.error().connect);
}

TEST_CASE("a stale socket file is replaced, a busy one or any other file is not", "[http][unix]") {
  TempDir dir;
  const std::string path = dir.file("admin.sock");
  SECTION("stale socket") {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);  // the file stays, nobody listens
    REQUIRE(S_ISSOCK(mode_of(path)));
    RunningServer running(path);
    REQUIRE(running.error().empty());
    auto reply = admin::AdminClient(path, 5s).request("GET", "/");
    REQUIRE(reply.ok());
    CHECK(reply->status == 200);
  }
  SECTION("socket in use") {
    RunningServer first(path);
    REQUIRE(first.error().empty());
    RunningServer second(path);
    CHECK(second.error().find("in use") != std::string::npos);
    auto reply = admin::AdminClient(path, 5s).request("GET", "/");
    REQUIRE(reply.ok());  // the first one still answers
    CHECK(reply->status == 200);
  }
  SECTION("a regular file") {
    dir.write("admin.sock", "precious");
    RunningServer running(path);
    CHECK(running.error().find("not a socket") != std::string::npos);
    std::ifstream in(path);
    std::string content;
    in >> content;
    CHECK(content == "precious");
  }
  SECTION("a successor's socket is not removed") {
    auto first = std::make_unique<RunningServer>(path);
    REQUIRE(first->error().empty());
    // Someone replaced the file meanwhile (the successor took over).
    REQUIRE(::unlink(path.c_str()) == 0);
    RunningServer second(path);
    REQUIRE(second.error().empty());
    first.reset();
    CHECK(std::filesystem::exists(path));
    auto reply = admin::AdminClient(path, 5s).request("GET", "/");
    REQUIRE(reply.ok());
  }
}

TEST_CASE("TLS is refused on a Unix socket", "[http][unix]") {
  TempDir dir;
  boost::asio::io_context io;
  EchoHandler handler;
  http::ServerOptions options;
  options.unix_path = dir.file("admin.sock");
  options.tls = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
  auto created =
      http::Server::create(io.get_executor(), options, handler, log::stderr_logger("t", "warn"));
  REQUIRE_FALSE(created.ok());
  CHECK(created.error().find("TLS") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("admin.sock")));
}
