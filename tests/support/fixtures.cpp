#include "support/fixtures.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ocirelay::test {

std::string fixture_path(const std::string& relative) {
  return std::string(OCIRELAY_TEST_DATA_DIR) + "/" + relative;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string fixture(const std::string& relative) { return read_file(fixture_path(relative)); }

}  // namespace ocirelay::test
