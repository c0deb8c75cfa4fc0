# Cross-compiling for 64-bit Arm (Ampere A1 and other aarch64 Linux) on a
# Debian 12 x86_64 host, with Debian's cross toolchain and multiarch
# libraries:
#
#   scripts/install-cross-deps.sh    # crossbuild-essential-arm64, :arm64 libraries
#   cmake -S . -B build-aarch64 \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#     -DOCIRELAY_yaml-cpp_ARCHIVE=$PWD/build-deps/aarch64/usr/lib/aarch64-linux-gnu/libyaml-cpp.a
#
# libyaml-cpp-dev:arm64 must not be installed with apt: it is not
# multi-arch, so apt would remove the amd64 one. install-cross-deps.sh
# unpacks its archive under build-deps/ instead. scripts/package.sh does all
# of this.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Headers and libraries: the host's /usr, where Debian's multiarch layout
# keeps arm64 libraries apart (/usr/lib/aarch64-linux-gnu); programs: the
# host's.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# pkg-config (FindOpenSSL asks it first) must describe arm64's libraries,
# not the host's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# Tests of a cross build run through qemu-user (package qemu-user-static).
find_program(OCIRELAY_QEMU_AARCH64 qemu-aarch64-static qemu-aarch64)
if(OCIRELAY_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${OCIRELAY_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu")
endif()
