#include "storage/pq_library.hpp"

#include <dlfcn.h>

namespace ocirelay::storage {

namespace {

// libpq's ABI has been stable under this soname since PostgreSQL 8.2.
constexpr const char* kSoname = "libpq.so.5";

struct Loaded {
  PqLibrary library;
  std::string error;  // empty when loaded
};

template <class Fn>
bool resolve(void* handle, const char* name, Fn& out, std::string& error) {
  void* symbol = ::dlsym(handle, name);
  if (symbol == nullptr) {
    error = std::string(kSoname) + " has no " + name + " (libpq too old?)";
    return false;
  }
  out = reinterpret_cast<Fn>(symbol);
  return true;
}

Loaded open_library() {
  Loaded loaded;
  void* handle = ::dlopen(kSoname, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    loaded.error = std::string("cannot load ") + kSoname +
                   " (install the libpq5 package): " + (why != nullptr ? why : "unknown error");
    return loaded;
  }
  PqLibrary& l = loaded.library;
  std::string& e = loaded.error;
  const bool ok =
      resolve(handle, "PQconnectdbParams", l.connectdb_params, e) &&
      resolve(handle, "PQstatus", l.status, e) &&
      resolve(handle, "PQerrorMessage", l.error_message, e) &&
      resolve(handle, "PQfinish", l.finish, e) && resolve(handle, "PQexec", l.exec, e) &&
      resolve(handle, "PQexecParams", l.exec_params, e) &&
      resolve(handle, "PQprepare", l.prepare, e) &&
      resolve(handle, "PQexecPrepared", l.exec_prepared, e) &&
      resolve(handle, "PQresultStatus", l.result_status, e) &&
      resolve(handle, "PQresultErrorField", l.result_error_field, e) &&
      resolve(handle, "PQresultErrorMessage", l.result_error_message, e) &&
      resolve(handle, "PQclear", l.clear, e) && resolve(handle, "PQntuples", l.ntuples, e) &&
      resolve(handle, "PQgetvalue", l.getvalue, e) &&
      resolve(handle, "PQgetlength", l.getlength, e) &&
      resolve(handle, "PQgetisnull", l.getisnull, e) &&
      resolve(handle, "PQcmdTuples", l.cmd_tuples, e) &&
      resolve(handle, "PQserverVersion", l.server_version, e) &&
      resolve(handle, "PQtransactionStatus", l.transaction_status, e) &&
      resolve(handle, "PQsetNoticeProcessor", l.set_notice_processor, e) &&
      resolve(handle, "PQconninfoParse", l.conninfo_parse, e) &&
      resolve(handle, "PQconninfoFree", l.conninfo_free, e) &&
      resolve(handle, "PQfreemem", l.freemem, e) && resolve(handle, "PQfformat", l.fformat, e) &&
      resolve(handle, "PQsocket", l.socket, e) &&
      resolve(handle, "PQconsumeInput", l.consume_input, e) &&
      resolve(handle, "PQnotifies", l.notifies, e);
  if (!ok) {
    ::dlclose(handle);
  }
  return loaded;
}

}  // namespace

Result<const PqLibrary*, std::string> PqLibrary::load() {
  static const Loaded loaded = open_library();  // thread-safe, once
  if (!loaded.error.empty()) {
    return fail(loaded.error);
  }
  return &loaded.library;
}

}  // namespace ocirelay::storage
