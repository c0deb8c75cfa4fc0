// The configuration schema (issue #2, "Configuration"), shared by YAML and JSON:
// both are read into a ConfigNode tree, whose top-level keys this file
// dispatches to the sections (sections.hpp), one file each.
#include "ocirelay/config/loader.hpp"

#include <array>
#include <cerrno>
#include <exception>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include "config/admin_schema.hpp"
#include "config/config_node.hpp"
#include "config/field_table.hpp"
#include "config/json_reader.hpp"
#include "config/management_schema.hpp"
#include "config/schema_walker.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"
#include "config/yaml_reader.hpp"

namespace ocirelay::config {

namespace {

using detail::ConfigNode;
using detail::NameRef;
using detail::SchemaWalker;

// The configuration being read, and the names the cross-reference checks need
// once every section has been read.
struct Document : Config {
  std::vector<NameRef> destination_names;
  std::vector<NameRef> route_names;
  std::vector<NameRef> route_destinations;
};

// The top-level keys: one section each.
constexpr auto kTopFields = detail::fields<Document>({
    {"server", detail::member_field<&Config::server, detail::read_server>},
    {"storage", detail::member_field<&Config::storage, detail::read_storage>},
    {"log", detail::member_field<&Config::log, detail::read_log>},
    {"destinations",
     [](auto& w, auto& value, auto& path, Document& out) {
       detail::read_destinations(w, value, path, out.destinations,
                                 out.destination_names);
     }},
    {"routes",
     [](auto& w, auto& value, auto& path, Document& out) {
       detail::read_routes(w, value, path, out.routes, out.route_names,
                           out.route_destinations);
     }},
    {"admin",
     [](auto& w, auto& value, auto& path, Document& out) {
       detail::read_admin(w, value, path, out.admin.emplace());
     }},
    // Read by build_config once `server:` is known: the management listener
    // is checked against server.listen, also when the section is absent.
    {"management", [](auto&, auto&, auto&, Document&) {}},
    // Read by build_config first: `${vault:}` anywhere else needs it. Its
    // destinations are resolved by build_config once both are read.
    {"oci", [](auto&, auto&, auto&, Document&) {}},
});

Config build_config(SchemaWalker& w, const ConfigNode& root, const std::string& name) {
  Document doc;
  doc.source_file = name;
  if (root.is_null()) {
    return Config(std::move(doc));  // an empty file: every default
  }
  if (root.is_mapping()) {
    if (const ConfigNode* oci = SchemaWalker::get(root, "oci")) {
      detail::read_oci(w, *oci, "oci", doc.oci);
    } else {
      w.use_vault_identity(doc.oci);
    }
  }
  if (!kTopFields.read(w, root, "", doc)) {
    return Config(std::move(doc));
  }
  detail::read_management(w, root, doc.server.listen, doc.management);
  detail::check_unique(w, doc.destination_names, "destination");
  detail::check_unique(w, doc.route_names, "route");
  detail::check_route_destinations(w, doc.destination_names, doc.route_destinations);
  detail::resolve_oci_destinations(w, root, doc.oci, doc.destinations);
  return Config(std::move(doc));
}

Result<std::string, std::string> read_whole_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(std::system_category().message(errno));
  }
  std::string content;
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int saved = errno;
      ::close(fd);
      return fail(std::system_category().message(saved));
    }
    if (n == 0) {
      break;
    }
    content.append(buffer.data(), static_cast<std::size_t>(n));
    if (content.size() > 16 * 1024 * 1024) {
      ::close(fd);
      return fail("the file is larger than 16 MiB; this is not a configuration file");
    }
  }
  ::close(fd);
  return content;
}

}  // namespace

Result<Config, ConfigErrors> parse_config(std::string_view text, const std::string& name,
                                          const SecretSources& secrets) {
  try {
    auto tree =
        detail::is_json_file_name(name) ? detail::read_json(text, name) : detail::read_yaml(text, name);
    if (!tree) {
      return fail(std::move(tree).error());
    }
    SchemaWalker walker(name, secrets);
    Config config = build_config(walker, tree.value(), name);
    if (walker.has_errors()) {
      return fail(walker.take_errors());
    }
    return config;
  } catch (const std::exception& e) {
    return fail(ConfigErrors{ConfigError{
        name, "", 0, 0, std::string("internal error reading the configuration: ") + e.what()}});
  } catch (...) {
    return fail(
        ConfigErrors{ConfigError{name, "", 0, 0, "internal error reading the configuration"}});
  }
}

Result<Config, ConfigErrors> load_config(const std::string& path, const SecretSources& secrets) {
  try {
    auto text = read_whole_file(path);
    if (!text) {
      return fail(ConfigErrors{
          ConfigError{path, "", 0, 0, "cannot read the configuration file: " + text.error()}});
    }
    return parse_config(text.value(), path, secrets);
  } catch (const std::exception& e) {
    return fail(ConfigErrors{ConfigError{path, "", 0, 0, std::string("cannot load: ") + e.what()}});
  }
}

}  // namespace ocirelay::config
