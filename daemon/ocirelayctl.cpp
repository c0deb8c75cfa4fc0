// ocirelayctl: everything lives in the library; main only guards against the
// unexpected.
#include <cstdio>
#include <exception>

#include "ocirelay/admin/ctl.hpp"

int main(int argc, char** argv) {
  try {
    return ocirelay::admin::ctl_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ocirelayctl: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ocirelayctl: fatal: unknown exception\n");
  }
  return 1;
}
