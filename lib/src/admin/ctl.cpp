#include "ocirelay/admin/ctl.hpp"

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_client.hpp"
#include "admin/ctl_command_line.hpp"
#include "admin/ctl_output.hpp"
#include "config/admin_schema.hpp"
#include "ocirelay_version.hpp"

namespace ocirelay::admin {

namespace {

constexpr const char* kProgram = "ocirelayctl";
constexpr int kExitOk = 0;
constexpr int kExitDaemon = 1;
constexpr int kExitUsage = 2;

void print_error(const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", kProgram, message.c_str());
}

// The socket to talk to: --socket, admin.socket of --config, or the default.
// Prints why not and returns nothing on a configuration problem.
std::optional<std::string> socket_path(const CtlCommandLine& cl) {
  if (!cl.socket.empty()) {
    return cl.socket;
  }
  if (cl.config_file.empty()) {
    return std::string(kDefaultAdminSocket);
  }
  auto admin = config::detail::load_admin_section(cl.config_file);
  if (!admin) {
    for (const auto& e : admin.error()) {
      std::fprintf(stderr, "%s\n", e.to_string().c_str());
    }
    print_error(cl.config_file + ": configuration invalid");
    return std::nullopt;
  }
  if (!admin.value()) {
    print_error(cl.config_file +
                " has no admin section, so ocirelayd has no admin endpoint; add"
                " `admin: { socket: /run/ocirelay/admin.sock }` and restart it");
    return std::nullopt;
  }
  return admin.value()->socket;
}

}  // namespace

int ctl_main(int argc, char** argv) {
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  auto parsed = parse_ctl_command_line(args);
  if (!parsed) {
    print_error(parsed.error());
    std::fprintf(stderr, "Try '%s --help'.\n", kProgram);
    return kExitUsage;
  }
  const CtlCommandLine& cl = parsed.value();
  if (cl.help) {
    std::fputs(ctl_usage(kProgram).c_str(), stdout);
    return kExitOk;
  }
  if (cl.version) {
    std::printf("%s %s\n", kProgram, kVersion);
    return kExitOk;
  }
  const auto socket = socket_path(cl);
  if (!socket) {
    return kExitUsage;
  }
  const CtlRequest request = ctl_request(cl);
  AdminClient client(*socket, cl.timeout);
  auto reply = client.request(request.method, request.target);
  if (!reply) {
    const AdminClientError& e = reply.error();
    print_error((e.connect ? "cannot connect to ocirelayd's admin socket " : "admin socket ") +
                *socket + ": " + e.message);
    return kExitDaemon;
  }
  const AdminReply& answer = reply.value();
  if (answer.status != 200) {
    if (cl.json) {
      std::printf("%s\n", answer.body.c_str());
    }
    print_error(error_message(answer.body) + " (HTTP " + std::to_string(answer.status) + ")");
    return kExitDaemon;
  }
  if (cl.json) {
    std::fwrite(answer.body.data(), 1, answer.body.size(), stdout);
    std::fputc('\n', stdout);
    return kExitOk;
  }
  auto text = render_text(cl.command, answer.body);
  if (!text) {
    print_error("unexpected answer from ocirelayd: " + text.error());
    return kExitDaemon;
  }
  std::fputs(text.value().c_str(), stdout);
  return kExitOk;
}

}  // namespace ocirelay::admin
