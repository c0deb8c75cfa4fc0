#include "support/daemon_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/fixtures.hpp"

extern char** environ;

namespace ocirelay::test {

using namespace std::chrono_literals;

std::string ocirelayd_path() { return OCIRELAYD_PATH; }

namespace {

std::string file_contents_from(const std::string& path, std::size_t offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

pid_t spawn(const std::vector<std::string>& args, const std::string& out_file,
            const std::vector<std::string>& extra_env, std::optional<std::uint64_t> fsize,
            std::optional<std::uint64_t> nofile = std::nullopt) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    // The test's own service manager must not hear from the daemons it runs.
    const std::string_view entry(*e);
    if (entry.rfind("NOTIFY_SOCKET=", 0) == 0 || entry.rfind("WATCHDOG_", 0) == 0) continue;
    env_strings.emplace_back(*e);
  }
  for (const auto& e : extra_env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings{ocirelayd_path()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    if (fsize) {
      struct rlimit rl{static_cast<rlim_t>(*fsize), static_cast<rlim_t>(*fsize)};
      ::setrlimit(RLIMIT_FSIZE, &rl);
    }
    if (nofile) {
      struct rlimit rl{static_cast<rlim_t>(*nofile), static_cast<rlim_t>(*nofile)};
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return pid;
}

std::optional<int> wait_pid(pid_t pid, Duration timeout, int* signal_out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (signal_out && WIFSIGNALED(status)) *signal_out = WTERMSIG(status);
      return -1;
    }
    if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

ProcessResult run_ocirelayd(const std::vector<std::string>& args, Duration timeout,
                            const std::vector<std::string>& extra_env) {
  char tmpl[] = "/tmp/ocirelayd-run-XXXXXX";
  const int fd = ::mkstemp(tmpl);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  const pid_t pid = spawn(args, tmpl, extra_env, std::nullopt);
  ProcessResult result;
  auto code = wait_pid(pid, timeout, &result.signal);
  if (!code) {
    ::kill(pid, SIGKILL);
    wait_pid(pid, 5s, nullptr);
    std::filesystem::remove(tmpl);
    throw std::runtime_error("ocirelayd did not finish in time");
  }
  result.exit_code = *code;
  result.output = read_file(tmpl);
  std::filesystem::remove(tmpl);
  return result;
}

DaemonProcess::DaemonProcess(Options options) : options_(std::move(options)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) kill_hard();
}

void DaemonProcess::start(Duration timeout) {
  if (pid_ > 0) throw std::logic_error("daemon already running");
  std::error_code ec;
  log_offset_ = std::filesystem::exists(options_.log_file)
                    ? static_cast<std::size_t>(std::filesystem::file_size(options_.log_file, ec))
                    : 0;
  management_port_ = 0;
  pid_ = spawn({"--config", options_.config_file}, options_.log_file, options_.extra_env,
               options_.file_size_limit, options_.open_files_limit);
  static const std::regex listening(R"(listening on 127\.0\.0\.1:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, listening)) {
      port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      return;
    }
    int sig = 0;
    if (auto code = wait_pid(pid_, 0ms, &sig)) {
      pid_ = -1;
      throw std::runtime_error("ocirelayd exited with " + std::to_string(*code) +
                               " before listening:\n" + text);
    }
    std::this_thread::sleep_for(10ms);
  }
  const std::string text = log();
  kill_hard();
  throw std::runtime_error("ocirelayd did not start listening in time:\n" + text);
}

std::uint16_t DaemonProcess::management_port() {
  if (management_port_ != 0) return management_port_;
  if (port_ == 0) throw std::logic_error("management_port(): the daemon has not started");
  // One of the two lines is logged at start, today before "listening on".
  static const std::regex line(R"(management endpoint on 127\.0\.0\.1:(\d+))");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (;;) {
    std::smatch m;
    const std::string text = log();
    if (std::regex_search(text, m, line)) {
      management_port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
      return management_port_;
    }
    if (text.find("management.listen is \"\"") != std::string::npos ||
        std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("ocirelayd has no management listener on 127.0.0.1:\n" + text);
    }
    std::this_thread::sleep_for(10ms);
  }
}

void DaemonProcess::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> DaemonProcess::wait_exit(Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto code = wait_pid(pid_, timeout, nullptr);
  if (code) pid_ = -1;
  return code;
}

void DaemonProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  wait_pid(pid_, 10s, nullptr);
  pid_ = -1;
}

std::string DaemonProcess::log() const {
  return file_contents_from(options_.log_file, log_offset_);
}

bool DaemonProcess::wait_for_log(const std::string& text, Duration timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    if (log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  } while (std::chrono::steady_clock::now() < deadline);
  return false;
}

}  // namespace ocirelay::test
