# The third-party libraries, found once, as imported targets the library
# links against:
#
#   OpenSSL::SSL, OpenSSL::Crypto   OpenSSL 3
#   ocirelay::sqlite3               SQLite 3
#   ocirelay::pq                    libpq's headers (libpq-fe.h) and libdl:
#                                   storage loads libpq.so.5 at run time
#                                   (lib/src/storage/pq_library.cpp), only
#                                   when storage.backend is postgresql
#   ocirelay::yaml-cpp              yaml-cpp
#   ocirelay::spdlog                spdlog with fmt
#   Boost::headers, RapidJSON::RapidJSON, Threads::Threads
#
# With OCIRELAY_PORTABLE the binaries must need nothing but glibc, so the
# static archives Debian ships are linked (libssl.a, libcrypto.a,
# libsqlite3.a, libyaml-cpp.a), and spdlog and fmt, which Debian ships only
# as shared libraries, are compiled in from their headers (header-only
# mode). Without it the shared libraries are used, as a distribution's own
# package of ocirelay would.
#
# libpq is never linked: Debian ships no static libpq that links without
# Kerberos and LDAP, and a relay on SQLite should not need libpq5 at all. The
# storage library opens libpq.so.5 (Debian package libpq5) when a PostgreSQL
# store is opened and says so clearly when it is missing.
#
# Cross-compiling (cmake/toolchains/aarch64-linux-gnu.cmake) finds the
# target architecture's libraries in Debian's multiarch directories.

include_guard(GLOBAL)

find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(RapidJSON REQUIRED)
if(NOT TARGET RapidJSON::RapidJSON)
  add_library(RapidJSON::RapidJSON INTERFACE IMPORTED)
  set_target_properties(RapidJSON::RapidJSON PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${RAPIDJSON_INCLUDE_DIRS}")
endif()

if(OCIRELAY_PORTABLE)
  # FindOpenSSL adds libdl and threads to the static libcrypto's link line.
  set(OPENSSL_USE_STATIC_LIBS TRUE)
endif()
find_package(OpenSSL 3 REQUIRED)

# A static archive, or fail naming the package that ships it.
function(ocirelay_static_library target archive package)
  find_library(OCIRELAY_${target}_ARCHIVE NAMES ${archive} REQUIRED
    DOC "${archive} (Debian package ${package})")
  add_library(ocirelay::${target} STATIC IMPORTED GLOBAL)
  set_target_properties(ocirelay::${target} PROPERTIES
    IMPORTED_LOCATION "${OCIRELAY_${target}_ARCHIVE}")
endfunction()

if(OCIRELAY_PORTABLE)
  ocirelay_static_library(sqlite3 libsqlite3.a libsqlite3-dev)
  find_path(OCIRELAY_SQLITE3_INCLUDE sqlite3.h REQUIRED)
  set_target_properties(ocirelay::sqlite3 PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OCIRELAY_SQLITE3_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "Threads::Threads;m;${CMAKE_DL_LIBS}")

  ocirelay_static_library(yaml-cpp libyaml-cpp.a libyaml-cpp-dev)
  find_path(OCIRELAY_YAML_CPP_INCLUDE yaml-cpp/yaml.h REQUIRED)
  set_target_properties(ocirelay::yaml-cpp PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OCIRELAY_YAML_CPP_INCLUDE}")

  # spdlog as Debian configures it (fmt external), both header-only.
  find_path(OCIRELAY_SPDLOG_INCLUDE spdlog/spdlog.h REQUIRED)
  find_path(OCIRELAY_FMT_INCLUDE fmt/format-inl.h REQUIRED)
  add_library(ocirelay::spdlog INTERFACE IMPORTED GLOBAL)
  set_target_properties(ocirelay::spdlog PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${OCIRELAY_SPDLOG_INCLUDE};${OCIRELAY_FMT_INCLUDE}"
    INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL;FMT_HEADER_ONLY"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
else()
  find_package(SQLite3 REQUIRED)
  find_package(yaml-cpp REQUIRED)
  find_package(spdlog REQUIRED)
  add_library(ocirelay::sqlite3 INTERFACE IMPORTED GLOBAL)
  set_target_properties(ocirelay::sqlite3 PROPERTIES INTERFACE_LINK_LIBRARIES SQLite::SQLite3)
  add_library(ocirelay::yaml-cpp INTERFACE IMPORTED GLOBAL)
  set_target_properties(ocirelay::yaml-cpp PROPERTIES INTERFACE_LINK_LIBRARIES yaml-cpp)
  add_library(ocirelay::spdlog INTERFACE IMPORTED GLOBAL)
  set_target_properties(ocirelay::spdlog PROPERTIES INTERFACE_LINK_LIBRARIES spdlog::spdlog)
endif()

find_path(OCIRELAY_PQ_INCLUDE libpq-fe.h PATH_SUFFIXES postgresql REQUIRED
  DOC "libpq-fe.h (Debian package libpq-dev)")
add_library(ocirelay::pq INTERFACE IMPORTED GLOBAL)
set_target_properties(ocirelay::pq PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${OCIRELAY_PQ_INCLUDE}"
  INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
