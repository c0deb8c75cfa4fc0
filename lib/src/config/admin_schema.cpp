#include "config/admin_schema.hpp"

#include <array>
#include <cerrno>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>
#include <utility>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config/json_reader.hpp"
#include "config/yaml_reader.hpp"

namespace ocirelay::config::detail {

namespace {

constexpr auto kAdminKeys = std::to_array<std::string_view>({"socket"});
constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;

std::string os_error_text(int error) { return std::system_category().message(error); }

// Why `path` cannot be where the daemon listens, as far as its text says.
std::optional<std::string> socket_text_problem(const std::string& path) {
  if (path.empty()) {
    return "must not be empty";
  }
  if (path.find('\0') != std::string::npos) {
    return "must not contain a NUL character";
  }
  if (path.size() > kMaxSocketPath) {
    return "is " + std::to_string(path.size()) + " bytes long; a Unix socket path has at most " +
           std::to_string(kMaxSocketPath);
  }
  if (path.back() == '/') {
    return "names a directory; give the socket's file name";
  }
  return std::nullopt;
}

// Why the daemon could not create the socket at `path` (the directory is
// missing and cannot be created, something else is in the way), or nullopt.
// Writability of an existing directory is left to the daemon, which may run
// as another user than whoever checks the configuration.
std::optional<std::string> socket_place_problem(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    return S_ISSOCK(st.st_mode) ? std::nullopt
                                : std::optional<std::string>("exists and is not a socket");
  }
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) {
    dir = ".";
  }
  std::filesystem::path ancestor = dir;  // the nearest one that exists
  while (::stat(ancestor.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return "cannot access directory " + ancestor.string() + ": " + os_error_text(errno);
    }
    std::filesystem::path up = ancestor.parent_path();
    if (up.empty()) {
      up = ".";
    }
    if (up == ancestor) {
      return "directory " + dir.string() + " does not exist";
    }
    ancestor = std::move(up);
  }
  if (!S_ISDIR(st.st_mode)) {
    return ancestor.string() + " is not a directory";
  }
  if (ancestor != dir && ::access(ancestor.c_str(), W_OK | X_OK) != 0) {
    return "directory " + dir.string() + " does not exist and cannot be created (" +
           ancestor.string() + ": " + os_error_text(errno) + ")";
  }
  return std::nullopt;
}

void read_admin_section(SchemaWalker& w, const ConfigNode& node, const std::string& path,
                        Admin& out, bool check_place) {
  if (!w.expect_mapping(node, path, kAdminKeys)) {
    return;
  }
  const ConfigNode* socket = SchemaWalker::get(node, "socket");
  if (socket == nullptr) {
    return;  // the default path
  }
  const std::string sp = SchemaWalker::join(path, "socket");
  auto text = w.text(*socket, sp);
  if (!text) {
    return;
  }
  if (auto problem = socket_text_problem(*text)) {
    w.error(*socket, sp, "admin socket " + quote(socket->text) + " " + *problem);
    return;
  }
  if (check_place) {
    if (auto problem = socket_place_problem(*text)) {
      w.error(*socket, sp, "admin socket " + quote(socket->text) + ": " + *problem);
      return;
    }
  }
  out.socket = std::move(*text);
}

bool ends_with_json(std::string_view name) {
  constexpr std::string_view kExt = ".json";
  if (name.size() < kExt.size()) {
    return false;
  }
  const std::string_view tail = name.substr(name.size() - kExt.size());
  for (std::size_t i = 0; i < kExt.size(); ++i) {
    const char c = tail[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kExt[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void read_admin(SchemaWalker& w, const ConfigNode& node, const std::string& path, Admin& out) {
  read_admin_section(w, node, path, out, true);
}

Result<std::optional<Admin>, ConfigErrors> load_admin_section(const std::string& path,
                                                              const SecretSources& secrets) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(ConfigErrors{ConfigError{
        path, "", 0, 0, "cannot read the configuration file: " + os_error_text(errno)}});
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) {
    return fail(ConfigErrors{ConfigError{path, "", 0, 0, "cannot read the configuration file"}});
  }
  try {
    const std::string text = content.str();
    auto tree = ends_with_json(path) ? read_json(text, path) : read_yaml(text, path);
    if (!tree) {
      return fail(std::move(tree).error());
    }
    const ConfigNode& root = tree.value();
    if (!root.is_mapping()) {
      return std::optional<Admin>();  // no sections at all (the daemon would say more)
    }
    const ConfigNode* node = SchemaWalker::get(root, "admin");
    if (node == nullptr) {
      return std::optional<Admin>();
    }
    SchemaWalker walker(path, secrets);
    Admin admin;
    // The socket need not exist here: whether the daemon runs is for the
    // caller to find out.
    read_admin_section(walker, *node, "admin", admin, false);
    if (walker.has_errors()) {
      return fail(walker.take_errors());
    }
    return std::optional<Admin>(std::move(admin));
  } catch (const std::exception& e) {
    return fail(ConfigErrors{ConfigError{
        path, "", 0, 0, std::string("internal error reading the configuration: ") + e.what()}});
  }
}

}  // namespace ocirelay::config::detail
