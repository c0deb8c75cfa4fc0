#include "support/raw_http_peer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

namespace ocirelay::test {

using namespace std::chrono_literals;

namespace {

std::string reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 400:
      return "Bad Request";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// Waits for the socket to become readable, checking `stop` every 50 ms.
// Returns false when stopping.
bool wait_readable(int fd, const std::atomic<bool>& stop) {
  while (!stop.load()) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 50);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let recv report it
  }
  return false;
}

// Sleeps `d` in short steps; false when stopping.
bool pause_for(Duration d, const std::atomic<bool>& stop) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < until) {
    if (stop.load()) return false;
    std::this_thread::sleep_for(std::min<Duration>(Duration(10), d));
  }
  return !stop.load();
}

bool send_all(int fd, const char* data, std::size_t size) {
  std::size_t sent = 0;
  while (sent < size) {
    const ssize_t n = ::send(fd, data + sent, size - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

RawReply raw_response(int status, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
  for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
  if (!body.empty()) out += "Content-Type: application/json\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return RawReply{std::move(out), {}, RawReply::Then::keep_alive};
}

RawHttpPeer::RawHttpPeer(Start start) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("raw peer: socket failed");
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("raw peer: bind failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (start == Start::listening) listen();
}

RawHttpPeer::~RawHttpPeer() {
  stopping_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    threads.swap(connections_);
  }
  for (auto& t : threads) t.join();
  ::close(listen_fd_);
}

std::string RawHttpPeer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void RawHttpPeer::listen() {
  if (listening_) return;
  if (::listen(listen_fd_, 128) != 0) throw std::runtime_error("raw peer: listen failed");
  listening_ = true;
  acceptor_ = std::thread([this] { accept_loop(); });
}

void RawHttpPeer::set_script(Script script) {
  std::lock_guard lock(mutex_);
  script_ = std::move(script);
}

std::vector<RecordedRequest> RawHttpPeer::requests() const {
  std::lock_guard lock(mutex_);
  return recorded_;
}

std::size_t RawHttpPeer::request_count() const {
  std::lock_guard lock(mutex_);
  return recorded_.size();
}

bool RawHttpPeer::wait_for_requests(std::size_t n, Duration timeout) const {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return recorded_.size() >= n; });
}

std::size_t RawHttpPeer::connection_count() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}

void RawHttpPeer::accept_loop() {
  while (wait_readable(listen_fd_, stopping_)) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(mutex_);
    ++accepted_;
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void RawHttpPeer::serve(int fd) {
  std::string buffer;
  char chunk[4096];
  // Reads more bytes into `buffer`; false when the peer left or we stop.
  auto fill = [&]() {
    if (!wait_readable(fd, stopping_)) return false;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  bool open = true;
  while (open) {
    std::size_t header_end;
    while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) {
        ::close(fd);
        return;
      }
    }
    RecordedRequest rec;
    const std::string head = buffer.substr(0, header_end);
    buffer.erase(0, header_end + 4);
    std::size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const auto sp1 = request_line.find(' ');
    const auto sp2 = request_line.find(' ', sp1 + 1);
    rec.method = request_line.substr(0, sp1);
    rec.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t content_length = 0;
    while (line_end != std::string::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = trim(line.substr(0, colon));
      std::string value = trim(line.substr(colon + 1));
      if (http::iequals(name, "Content-Length")) content_length = std::stoul(value);
      rec.headers.add(std::move(name), std::move(value));
    }
    while (buffer.size() < content_length) {
      if (!fill()) {
        ::close(fd);
        return;
      }
    }
    rec.body = buffer.substr(0, content_length);
    buffer.erase(0, content_length);
    rec.at = std::chrono::steady_clock::now();

    Script script;
    std::size_t index = 0;
    {
      std::lock_guard lock(mutex_);
      index = recorded_.size();
      recorded_.push_back(rec);
      script = script_;
    }
    cv_.notify_all();
    const RawReply reply = script ? script(rec, index) : raw_response(202);

    if (reply.trickle.count() > 0) {
      for (std::size_t i = 0; i < reply.bytes.size() && open; ++i) {
        open = send_all(fd, reply.bytes.data() + i, 1) &&
               (i + 1 == reply.bytes.size() || pause_for(reply.trickle, stopping_));
      }
    } else {
      open = send_all(fd, reply.bytes.data(), reply.bytes.size());
    }
    if (!open) break;
    switch (reply.then) {
      case RawReply::Then::keep_alive:
        break;
      case RawReply::Then::close:
        ::shutdown(fd, SHUT_WR);
        open = false;
        break;
      case RawReply::Then::reset: {
        const linger abortive{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abortive, sizeof abortive);
        open = false;
        break;
      }
      case RawReply::Then::hold:
        // Drain whatever the client sends until it leaves (or we stop).
        while (fill()) buffer.clear();
        open = false;
        break;
    }
  }
  ::close(fd);
}

}  // namespace ocirelay::test
