// `storage:`: the backend; for SQLite the queue file and the space it may
// use (reserve, max_size), for PostgreSQL the `postgresql:` section; the
// duplicate-detection window of both.
#include <cstdint>
#include <string_view>
#include <utility>

#include <unistd.h>

#include "config/field_table.hpp"
#include "config/sections.hpp"
#include "config/value_readers.hpp"

namespace ocirelay::config::detail {

namespace {

// The smallest storage.max_size: the schema, some events and room for
// delivery bookkeeping.
constexpr std::uint64_t kMinStorageMaxSize = 1024 * 1024;

bool has_control(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// A libpq URI or conninfo string. It holds the password: no message quotes it.
void read_url(SchemaWalker& w, const ConfigNode& value, const std::string& path,
              PostgresqlStorage& out) {
  auto url = w.text(value, path);
  if (!url) return;
  const std::string_view text = *url;
  if (text.empty()) {
    w.error(value, path, "must not be empty");
  } else if (has_control(text)) {
    w.error(value, path, "must not contain control characters (the value is not shown)");
  } else if (!text.starts_with("postgresql://") && !text.starts_with("postgres://") &&
             text.find('=') == std::string_view::npos) {
    w.error(value, path,
            "expected a libpq URI (postgresql://user@host:5432/db) or a conninfo string "
            "(host=... dbname=...) (the value is not shown)");
  } else {
    out.url = std::move(*url);
  }
}

constexpr std::size_t kMaxNodeId = 128;

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxNodeId) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

constexpr auto kPostgresqlFields = fields<PostgresqlStorage>({
    {"url", read_url, Presence::required},
    {"node_id",
     [](auto& w, auto& value, auto& path, PostgresqlStorage& out) {
       if (auto id = w.text(value, path)) {
         if (!valid_node_id(*id)) {
           w.error(value, path,
                   "bad node id " + quote(*id) +
                       ": use 1 to 128 letters, digits, '.', '_' and '-', unique per relay");
         } else {
           out.node_id = std::move(*id);
         }
       }
     }},
    {"lease", duration_field<&PostgresqlStorage::lease, 1000>},
    {"pool_size", integer_field<&PostgresqlStorage::pool_size, 1, 64>},
    {"connect_timeout", duration_field<&PostgresqlStorage::connect_timeout, 1000>},
    {"ca_file",
     [](auto& w, auto& value, auto& path, PostgresqlStorage& out) {
       read_file(w, value, path, out.ca_file, "CA certificate", false);
     }},
    {"poll_interval", duration_field<&PostgresqlStorage::poll_interval, 1000>},
});

constexpr auto kStorageFields = fields<Storage>({
    {"backend",
     [](auto& w, auto& value, auto& path, Storage& out) {
       if (auto text = w.text(value, path)) {
         if (*text == "sqlite") {
           out.backend = Storage::Backend::sqlite;
         } else if (*text == "postgresql") {
           out.backend = Storage::Backend::postgresql;
         } else {
           w.error(value, path, "bad backend " + quote(*text) + ": expected sqlite or postgresql");
         }
       }
     }},
    {"path",
     [](auto& w, auto& value, auto& path, Storage& out) {
       if (auto file = w.text(value, path)) {
         if (file->empty()) {
           w.error(value, path, "must not be empty");
         } else {
           out.path = std::move(*file);
         }
       }
     }},
    {"dedupe_window", duration_field<&Storage::dedupe_window>},
    {"reserve", size_field<&Storage::reserve>},
    {"max_size",
     [](auto& w, auto& value, auto& path, Storage& out) {
       if (auto bytes = w.size(value, path)) {
         if (*bytes != 0 && *bytes < kMinStorageMaxSize) {
           w.error(value, path,
                   "bad size " + quote(value.text) +
                       ": a quota below 1MiB leaves no room for events and delivery bookkeeping; "
                       "give at least 1MiB, or 0 for no quota");
         } else {
           out.max_size = *bytes;
         }
       }
     }},
    {"postgresql", mapping_field<&Storage::postgresql, kPostgresqlFields>},
});

// The host name, the default node_id; "ocirelay" when it cannot be read or
// is not a valid node id.
std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || !valid_node_id(name)) {
    return "ocirelay";
  }
  return name;
}

// One backend at a time: the keys of the other one are refused, each error
// naming the key and storage.backend.
void check_backend(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                   Storage& out) {
  const std::string backend_path = SchemaWalker::join(path, "backend");
  if (out.backend == Storage::Backend::sqlite) {
    if (const ConfigNode* pg = SchemaWalker::get(value, "postgresql")) {
      w.error(*pg, SchemaWalker::join(path, "postgresql"),
              "is only for " + backend_path + " postgresql, and " + backend_path +
                  " is sqlite (the default): set " + backend_path +
                  ": postgresql, or remove this section");
    }
    return;
  }
  for (const std::string_view key : {"path", "reserve", "max_size"}) {
    if (const ConfigNode* node = SchemaWalker::get(value, key)) {
      w.error(*node, SchemaWalker::join(path, key),
              "is only for " + backend_path + " sqlite (a local file), and " + backend_path +
                  " is postgresql: remove it, the queue is in the database of " +
                  SchemaWalker::join(path, "postgresql.url"));
    }
  }
  if (SchemaWalker::get(value, "postgresql") == nullptr) {
    w.error(value, SchemaWalker::join(path, "postgresql"),
            "is required with " + backend_path + " postgresql (at least its url)");
  }
  if (out.postgresql.node_id.empty()) {
    out.postgresql.node_id = host_name();
  }
}

}  // namespace

void read_storage(SchemaWalker& w, const ConfigNode& value, const std::string& path,
                  Storage& out) {
  if (kStorageFields.read(w, value, path, out)) {
    check_backend(w, value, path, out);
  }
}

}  // namespace ocirelay::config::detail
