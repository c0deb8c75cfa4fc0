#include "ocirelay/common/exception_text.hpp"

namespace ocirelay {

std::string exception_text(std::exception_ptr e) {
  if (!e) return "no exception";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "an exception of unknown type";
  }
}

}  // namespace ocirelay
