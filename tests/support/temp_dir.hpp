// A fresh directory under $TMPDIR, removed with everything in it on
// destruction. One per test; not shared between threads.
#pragma once

#include <filesystem>
#include <string>

namespace ocirelay::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  // path() / name, as a string.
  std::string file(const std::string& name) const;
  // Writes `content` to path() / name and returns the full path.
  std::string write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

}  // namespace ocirelay::test
