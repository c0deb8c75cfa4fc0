// PgResult: one libpq result, read in binary format, freed on destruction.
//
// Thread and lifetime contract: one thread at a time; movable, not copyable;
// it must not outlive the process's PqLibrary (which is never unloaded).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <string>

#include "storage/pq_library.hpp"

namespace ocirelay::storage {

class PgResult {
 public:
  PgResult() = default;
  PgResult(const PqLibrary* pq, PGresult* result) : pq_(pq), result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept;
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  // Commands (COMMAND_OK) and queries (TUPLES_OK) that succeeded.
  bool ok() const;
  // The server's SQLSTATE ("40P01"); empty when none.
  std::string sqlstate() const;
  // The server's message, one line.
  std::string message() const;

  int rows() const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t changed() const;
  bool is_null(int row, int column) const;
  // An integer column (int2, int4 or int8).
  std::int64_t int64(int row, int column) const;
  // A text or bytea column, byte for byte.
  std::string bytes(int row, int column) const;

 private:
  const PqLibrary* pq_ = nullptr;
  PGresult* result_ = nullptr;
};

}  // namespace ocirelay::storage
