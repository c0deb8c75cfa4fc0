#include "log/file_sink.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/common.h>

namespace ocirelay::log {

FileSink::FileSink(std::string path, std::uint64_t max_size, unsigned max_files)
    : path_(std::move(path)), max_size_(max_size), max_files_(max_files) {
  open();
}

FileSink::~FileSink() {
  if (file_) std::fclose(file_);
}

void FileSink::open() {
  std::FILE* f = std::fopen(path_.c_str(), "ab");
  if (f == nullptr) {
    throw spdlog::spdlog_ex("cannot open log file " + path_ + ": " + std::strerror(errno));
  }
  if (file_) std::fclose(file_);
  file_ = f;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path_, ec);
  size_ = ec ? 0 : size;
}

void FileSink::reopen() {
  std::lock_guard lock(mutex_);
  try {
    open();
  } catch (const spdlog::spdlog_ex&) {
    // Keep writing to the file we have.
  }
}

void FileSink::rotate() {
  std::error_code ec;
  const std::string last = path_ + "." + std::to_string(max_files_);
  std::filesystem::remove(last, ec);
  for (unsigned i = max_files_; i > 1; --i) {
    std::filesystem::rename(path_ + "." + std::to_string(i - 1), path_ + "." + std::to_string(i),
                            ec);
  }
  std::filesystem::rename(path_, path_ + ".1", ec);
  try {
    open();
  } catch (const spdlog::spdlog_ex&) {
    // Keep writing to the renamed file rather than losing lines.
  }
}

void FileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  if (max_size_ > 0 && size_ > 0 && size_ + formatted.size() > max_size_) {
    rotate();
  }
  if (file_ && std::fwrite(formatted.data(), 1, formatted.size(), file_) == formatted.size()) {
    size_ += formatted.size();
  }
}

void FileSink::flush_() {
  if (file_) std::fflush(file_);
}

}  // namespace ocirelay::log
