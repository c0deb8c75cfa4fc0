# Compiler and linker flags of a network-facing daemon, on every target of
# the project through ocirelay_options (so the tests run the code as it
# ships), and the static runtime of OCIRELAY_PORTABLE.
#
# OCIRELAY_HARDENING (what Debian's hardening-check looks for, and more):
#   -D_FORTIFY_SOURCE=2             checked string and memory functions
#                                   (optimised builds only: it needs -O)
#   -fstack-protector-strong        stack canaries
#   -fstack-clash-protection        no jumping over the stack guard page
#   -fcf-protection (x86_64)        CET: IBT and shadow-stack markings
#   -mbranch-protection=standard    the aarch64 equivalent (PAC and BTI)
#   PIE, -z relro -z now            ASLR for the binary, read-only GOT
#
# OCIRELAY_PORTABLE: libstdc++ and libgcc linked statically (the libraries
# are in cmake/Dependencies.cmake), so NEEDED is only glibc's.

include_guard(GLOBAL)

if(OCIRELAY_HARDENING)
  include(CheckPIESupported)
  check_pie_supported(LANGUAGES CXX)
  set(CMAKE_POSITION_INDEPENDENT_CODE ON)
  target_compile_options(ocirelay_options INTERFACE
    $<$<NOT:$<CONFIG:Debug>>:-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2>
    -fstack-protector-strong
    -fstack-clash-protection)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    target_compile_options(ocirelay_options INTERFACE -fcf-protection)
  elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    target_compile_options(ocirelay_options INTERFACE -mbranch-protection=standard)
  endif()
  target_link_options(ocirelay_options INTERFACE -Wl,-z,relro -Wl,-z,now)
  message(STATUS "ocirelay: hardening flags on")
endif()

if(OCIRELAY_PORTABLE)
  target_link_options(ocirelay_options INTERFACE -static-libstdc++ -static-libgcc)
  message(STATUS "ocirelay: portable build (only glibc linked dynamically)")
endif()
