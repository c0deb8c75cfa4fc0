// exception_text(): what an exception_ptr holds, for a log line. Used where a
// coroutine ended by an exception (a bug: I/O paths report error codes) and
// its owner logs it before carrying on.
//
// A pure function; no thread affinity.
#pragma once

#include <exception>
#include <string>

namespace ocirelay {

// "<what()>" for a std::exception, "an exception of unknown type" otherwise;
// "no exception" for a null pointer.
std::string exception_text(std::exception_ptr e);

}  // namespace ocirelay
