#include "config/admin_schema.hpp"

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

#include "config/field_table.hpp"
#include "config/json_reader.hpp"
#include "config/yaml_reader.hpp"

namespace ocirelay::config::detail {

namespace {

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

// `admin:` as the daemon reads it, or as ocirelayctl does: the socket need not
// be creatable there (`check_place` false), whether the daemon runs is for
// ocirelayctl to find out.
struct AdminTarget {
  Admin& admin;
  bool check_place = true;
};

constexpr auto kAdminFields = fields<AdminTarget>({
    {"socket",
     [](auto& w, auto& value, auto& path, AdminTarget& out) {
       auto text = w.text(value, path);
       if (!text) {
         return;
       }
       if (auto problem = socket_text_problem(*text)) {
         w.error(value, path, "admin socket " + quote(value.text) + " " + *problem);
         return;
       }
       if (out.check_place) {
         if (auto problem = socket_place_problem(*text)) {
           w.error(value, path, "admin socket " + quote(value.text) + ": " + *problem);
           return;
         }
       }
       out.admin.socket = std::move(*text);
     }},
});

}  // namespace

void read_admin(SchemaWalker& w, const ConfigNode& node, const std::string& path, Admin& out) {
  AdminTarget target{out, true};
  kAdminFields.read(w, node, path, target);
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
    auto tree = is_json_file_name(path) ? read_json(text, path) : read_yaml(text, path);
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
    AdminTarget target{admin, false};
    kAdminFields.read(walker, *node, "admin", target);
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
