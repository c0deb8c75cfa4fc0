# OCIRELAY_SANITIZE: build every target of the project (library, daemon,
# ocirelayctl, tests) with GCC's or Clang's sanitizers.
#
#   ""                   no sanitizer (the default)
#   "address,undefined"  AddressSanitizer (+ LeakSanitizer) and UBSan
#   "thread"             ThreadSanitizer
#
# scripts/test-sanitizers.sh configures build-asan / build-tsan with it and
# runs the whole test suite; docs/development.md explains the two modes.
#
# The flags go through the ocirelay_options interface target, so the compile
# flags of the precompiled header match those of the sources (PCH keeps
# working) and ccache keys on them (a sanitized object never replaces a plain
# one in the cache).

include_guard(GLOBAL)

set(OCIRELAY_SANITIZE "" CACHE STRING
  "Sanitizers: empty, \"address,undefined\" (ASan+LSan+UBSan) or \"thread\" (TSan)")
set_property(CACHE OCIRELAY_SANITIZE PROPERTY STRINGS "" "address,undefined" "thread")

if(OCIRELAY_SANITIZE STREQUAL "")
  return()
endif()

if(NOT OCIRELAY_SANITIZE MATCHES "^(address,undefined|thread)$")
  message(FATAL_ERROR "OCIRELAY_SANITIZE must be empty, \"address,undefined\" or \"thread\", "
                      "not \"${OCIRELAY_SANITIZE}\"")
endif()

target_compile_options(ocirelay_options INTERFACE
  -fsanitize=${OCIRELAY_SANITIZE}
  -fno-omit-frame-pointer
  # -Og (after, so instead of, the build type's -O3/-O2): GCC 12 compiles the
  # instrumented coroutine code in about half the time it takes at -O1
  # (http/server.cpp: 127 s against 229 s; unit/config/loader_test.cpp 17 s
  # against 32 s).
  -Og
  # Line tables only: readable stack traces in the reports at a fraction of
  # the compile time and size of full debug information.
  -g1)
target_link_options(ocirelay_options INTERFACE -fsanitize=${OCIRELAY_SANITIZE})

if(OCIRELAY_SANITIZE MATCHES "undefined")
  # Undefined behaviour stops the process (and so fails the test) instead of
  # printing a warning and going on.
  target_compile_options(ocirelay_options INTERFACE -fno-sanitize-recover=undefined)
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # With the sanitizers' instrumentation GCC reports -Wmaybe-uninitialized
  # inside libstdc++'s std::regex (std::function members of its states); GCC's
  # manual warns that this warning is unreliable with sanitizers.
  target_compile_options(ocirelay_options INTERFACE -Wno-maybe-uninitialized)
endif()

if(OCIRELAY_SANITIZE STREQUAL "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC warns that TSan does not model std::atomic_thread_fence, which Asio
  # and spdlog headers use; the warning is about TSan, not about our code.
  target_compile_options(ocirelay_options INTERFACE -Wno-tsan)
endif()

message(STATUS "ocirelay: sanitizers ${OCIRELAY_SANITIZE}")
