// ocirelayd: everything lives in the library; main only guards against the
// unexpected.
#include <cstdio>
#include <exception>

#include "ocirelay/app/daemon_main.hpp"

int main(int argc, char** argv) {
  try {
    return ocirelay::app::daemon_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ocirelayd: fatal: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "ocirelayd: fatal: unknown exception\n");
  }
  return 1;
}
