#include "storage/pg_result.hpp"

#include <utility>

namespace ocirelay::storage {

namespace {

std::uint64_t big_endian(const char* data, int length) {
  std::uint64_t value = 0;
  for (int i = 0; i < length; ++i) {
    value = (value << 8) | static_cast<unsigned char>(data[i]);
  }
  return value;
}

}  // namespace

PgResult::~PgResult() {
  if (result_ != nullptr) pq_->clear(result_);
}

PgResult::PgResult(PgResult&& other) noexcept
    : pq_(other.pq_), result_(std::exchange(other.result_, nullptr)) {}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) pq_->clear(result_);
    pq_ = other.pq_;
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

bool PgResult::ok() const {
  if (result_ == nullptr) return false;
  const ExecStatusType status = pq_->result_status(result_);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string PgResult::sqlstate() const {
  if (result_ == nullptr) return {};
  const char* state = pq_->result_error_field(result_, PG_DIAG_SQLSTATE);
  return state != nullptr ? state : "";
}

std::string PgResult::message() const {
  if (result_ == nullptr) return "no result (connection lost or out of memory)";
  const char* primary = pq_->result_error_field(result_, PG_DIAG_MESSAGE_PRIMARY);
  std::string text = primary != nullptr ? primary : pq_->result_error_message(result_);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown error" : text;
}

int PgResult::rows() const { return result_ != nullptr ? pq_->ntuples(result_) : 0; }

std::int64_t PgResult::changed() const {
  if (result_ == nullptr) return 0;
  const char* text = pq_->cmd_tuples(result_);
  return text != nullptr && *text != '\0' ? std::stoll(text) : 0;
}

bool PgResult::is_null(int row, int column) const {
  return pq_->getisnull(result_, row, column) != 0;
}

std::int64_t PgResult::int64(int row, int column) const {
  if (is_null(row, column)) return 0;
  const int length = pq_->getlength(result_, row, column);
  const char* data = pq_->getvalue(result_, row, column);
  const std::uint64_t raw = big_endian(data, length);
  // Sign-extend int2 and int4.
  if (length == 2) return static_cast<std::int16_t>(raw);
  if (length == 4) return static_cast<std::int32_t>(raw);
  return static_cast<std::int64_t>(raw);
}

std::string PgResult::bytes(int row, int column) const {
  const int length = pq_->getlength(result_, row, column);
  return std::string(pq_->getvalue(result_, row, column), static_cast<std::size_t>(length));
}

}  // namespace ocirelay::storage
