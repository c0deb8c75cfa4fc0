// PqLibrary: libpq (libpq.so.5), opened at run time the first time a
// PostgreSQL store needs it, with the functions the storage library calls.
// The binaries are never linked to libpq (docs/architecture.md, "Storage"):
// a relay on SQLite does not need it installed, and the portable build keeps
// needing nothing but glibc.
//
// Thread and lifetime contract: load() may be called from any thread; the
// library is opened once per process and never closed, so the function
// pointers stay valid for the life of the process.
#pragma once

#include <libpq-fe.h>

#include <string>

#include "ocirelay/common/result.hpp"

namespace ocirelay::storage {

struct PqLibrary {
  decltype(&::PQconnectdbParams) connectdb_params = nullptr;
  decltype(&::PQstatus) status = nullptr;
  decltype(&::PQerrorMessage) error_message = nullptr;
  decltype(&::PQfinish) finish = nullptr;
  decltype(&::PQexec) exec = nullptr;
  decltype(&::PQexecParams) exec_params = nullptr;
  decltype(&::PQprepare) prepare = nullptr;
  decltype(&::PQexecPrepared) exec_prepared = nullptr;
  decltype(&::PQresultStatus) result_status = nullptr;
  decltype(&::PQresultErrorField) result_error_field = nullptr;
  decltype(&::PQresultErrorMessage) result_error_message = nullptr;
  decltype(&::PQclear) clear = nullptr;
  decltype(&::PQntuples) ntuples = nullptr;
  decltype(&::PQgetvalue) getvalue = nullptr;
  decltype(&::PQgetlength) getlength = nullptr;
  decltype(&::PQgetisnull) getisnull = nullptr;
  decltype(&::PQcmdTuples) cmd_tuples = nullptr;
  decltype(&::PQserverVersion) server_version = nullptr;
  decltype(&::PQtransactionStatus) transaction_status = nullptr;
  decltype(&::PQsetNoticeProcessor) set_notice_processor = nullptr;
  decltype(&::PQconninfoParse) conninfo_parse = nullptr;
  decltype(&::PQconninfoFree) conninfo_free = nullptr;
  decltype(&::PQfreemem) freemem = nullptr;
  decltype(&::PQfformat) fformat = nullptr;
  // LISTEN (PgListener)
  decltype(&::PQsocket) socket = nullptr;
  decltype(&::PQconsumeInput) consume_input = nullptr;
  decltype(&::PQnotifies) notifies = nullptr;

  // The process's copy, opened on the first call; the error says what is
  // missing (libpq5 not installed, or too old for a function).
  static Result<const PqLibrary*, std::string> load();
};

}  // namespace ocirelay::storage
