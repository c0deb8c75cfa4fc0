# Installation layout and the Debian package of ocirelay.
#
#   cmake --install build --prefix /usr                          # onto this system
#   DESTDIR=/tmp/stage cmake --install build --prefix /usr       # staged
#   (cd build && cpack -G DEB)       # or: cmake --build build --target package
#                                    # -> build/ocirelay_<version>-1_<arch>.deb
#
# With --prefix /usr (and in the package) the files go to:
#   /usr/sbin/ocirelayd, /usr/sbin/ocirelayctl      (daemon/CMakeLists.txt)
#   /lib/systemd/system/ocirelay.service            systemd's unit directory
#   /etc/ocirelay/ocirelay.yaml                     config/production.yaml
#   /usr/share/doc/ocirelay/                        README.md, LICENSE, docs/*.md,
#                                                   examples/{production,dev}.yaml
#   /usr/share/ocirelay/events/                     sample events (*.json)
# The package's maintainer scripts are in packaging/deb/ (see packaging/README.md).
# tests/package/check_deb.sh builds the package and inspects it (ctest: package.deb).

include_guard(GLOBAL)
include(GNUInstallDirs)

set(OCIRELAY_SYSTEMD_UNITDIR "" CACHE STRING
  "Directory of the systemd unit: empty for systemd's own (pkg-config systemd) when the install prefix is /usr, else <prefix>/lib/systemd/system")
set(OCIRELAY_PACKAGE_MAINTAINER "ocirelay maintainers <maintainers@ocirelay.invalid>" CACHE STRING
  "Maintainer field of the Debian package: \"Name <email>\"")

# systemd's unit directory, used for a /usr install: /lib/systemd/system on
# Debian 12, /usr/lib/systemd/system where /usr is merged in the packaging.
find_package(PkgConfig QUIET)
if(PKG_CONFIG_FOUND)
  pkg_get_variable(OCIRELAY_SYSTEMD_SYSTEM_UNITDIR systemd systemdsystemunitdir)
endif()
if(NOT OCIRELAY_SYSTEMD_SYSTEM_UNITDIR)
  set(OCIRELAY_SYSTEMD_SYSTEM_UNITDIR /lib/systemd/system)
endif()

# --- Files whose place depends on the prefix given at install time ---------
# `cmake --install --prefix` changes CMAKE_INSTALL_PREFIX after configuration,
# so CMAKE_INSTALL_FULL_SYSCONFDIR (computed at configure time) would be wrong.
# The same rule as GNUInstallDirs is applied at install time instead: prefix
# / or /usr -> /etc, /opt/<x> -> /etc/opt/<x>, any other prefix -> <prefix>/etc.
set(_ocirelay_install_code [=[
  set(_ocirelay_prefix "${CMAKE_INSTALL_PREFIX}")
  string(REGEX REPLACE "(.)/+$" "\\1" _ocirelay_prefix "${_ocirelay_prefix}")
  set(_ocirelay_sysconfdir "@CMAKE_INSTALL_SYSCONFDIR@")
  if(NOT IS_ABSOLUTE "${_ocirelay_sysconfdir}")
    if(_ocirelay_prefix STREQUAL "/" OR _ocirelay_prefix STREQUAL "/usr")
      set(_ocirelay_sysconfdir "/${_ocirelay_sysconfdir}")
    elseif(_ocirelay_prefix MATCHES "^/opt/" AND NOT _ocirelay_prefix MATCHES "^/opt/homebrew/")
      set(_ocirelay_sysconfdir "/${_ocirelay_sysconfdir}${_ocirelay_prefix}")
    else()
      set(_ocirelay_sysconfdir "${_ocirelay_prefix}/${_ocirelay_sysconfdir}")
    endif()
  endif()
  set(_ocirelay_sbindir "@CMAKE_INSTALL_SBINDIR@")
  if(NOT IS_ABSOLUTE "${_ocirelay_sbindir}")
    set(_ocirelay_sbindir "${_ocirelay_prefix}/${_ocirelay_sbindir}")
  endif()
  set(_ocirelay_unitdir "@OCIRELAY_SYSTEMD_UNITDIR@")
  if(_ocirelay_unitdir STREQUAL "")
    if(_ocirelay_prefix STREQUAL "/usr")
      set(_ocirelay_unitdir "@OCIRELAY_SYSTEMD_SYSTEM_UNITDIR@")
    else()
      set(_ocirelay_unitdir "${_ocirelay_prefix}/lib/systemd/system")
    endif()
  elseif(NOT IS_ABSOLUTE "${_ocirelay_unitdir}")
    set(_ocirelay_unitdir "${_ocirelay_prefix}/${_ocirelay_unitdir}")
  endif()

  # The unit names /usr/sbin/ocirelayd and /etc/ocirelay/; for another prefix
  # it is installed with the paths of that prefix.
  set(_ocirelay_unit "@PROJECT_SOURCE_DIR@/systemd/ocirelay.service")
  if(NOT _ocirelay_sbindir STREQUAL "/usr/sbin" OR NOT _ocirelay_sysconfdir STREQUAL "/etc")
    file(READ "${_ocirelay_unit}" _ocirelay_text)
    string(REPLACE "/usr/sbin/ocirelayd" "${_ocirelay_sbindir}/ocirelayd" _ocirelay_text "${_ocirelay_text}")
    string(REPLACE "/etc/ocirelay/" "${_ocirelay_sysconfdir}/ocirelay/" _ocirelay_text "${_ocirelay_text}")
    set(_ocirelay_unit "@PROJECT_BINARY_DIR@/packaging/ocirelay.service")
    file(WRITE "${_ocirelay_unit}" "${_ocirelay_text}")
  endif()
  list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${_ocirelay_unitdir}/ocirelay.service")
  file(INSTALL DESTINATION "${_ocirelay_unitdir}" TYPE FILE
    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
    FILES "${_ocirelay_unit}")

  # The example configuration becomes the configuration file. A direct install
  # onto a system (no DESTDIR) keeps a file the administrator has changed; the
  # package marks it as a conffile, so dpkg does the same on upgrades.
  set(_ocirelay_conf "${_ocirelay_sysconfdir}/ocirelay/ocirelay.yaml")
  set(_ocirelay_example "@PROJECT_SOURCE_DIR@/config/production.yaml")
  set(_ocirelay_keep FALSE)
  if("$ENV{DESTDIR}" STREQUAL "" AND EXISTS "${_ocirelay_conf}")
    file(SHA256 "${_ocirelay_conf}" _ocirelay_old)
    file(SHA256 "${_ocirelay_example}" _ocirelay_new)
    if(NOT _ocirelay_old STREQUAL _ocirelay_new)
      set(_ocirelay_keep TRUE)
    endif()
  endif()
  if(_ocirelay_keep)
    message(STATUS "Keeping: ${_ocirelay_conf} (changed locally; the new example is "
      "@CMAKE_INSTALL_DOCDIR@/examples/production.yaml under the prefix)")
  else()
    list(APPEND CMAKE_ABSOLUTE_DESTINATION_FILES "${_ocirelay_conf}")
    file(INSTALL DESTINATION "${_ocirelay_sysconfdir}/ocirelay" TYPE FILE
      PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
      RENAME ocirelay.yaml FILES "${_ocirelay_example}")
  endif()
]=])
string(CONFIGURE "${_ocirelay_install_code}" _ocirelay_install_code @ONLY)
install(CODE "${_ocirelay_install_code}")

# --- Sample events, for the first test POST (docs/quickstart.md) -------------
install(FILES
    tests/data/events/createobject.json
    tests/data/events/updateobject.json
    tests/data/events/deleteobject.json
    tests/data/events/createbucket.json
    tests/data/events/cloudevents-1.0-structured.json
  DESTINATION ${CMAKE_INSTALL_DATADIR}/ocirelay/events)

# --- Documentation ----------------------------------------------------------
install(FILES README.md LICENSE DESTINATION ${CMAKE_INSTALL_DOCDIR})
# Debian's copyright file (with the licences of what is linked statically)
# and changelog, compressed as Debian Policy 12.7 asks (gzip -9n).
configure_file(packaging/deb/changelog.in ${PROJECT_BINARY_DIR}/packaging/changelog.Debian @ONLY)
execute_process(COMMAND gzip -9nf ${PROJECT_BINARY_DIR}/packaging/changelog.Debian
  RESULT_VARIABLE _ocirelay_gzip)
if(NOT _ocirelay_gzip EQUAL 0)
  message(FATAL_ERROR "gzip ${PROJECT_BINARY_DIR}/packaging/changelog.Debian failed")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/packaging/deb/changelog.in)
install(FILES packaging/deb/copyright ${PROJECT_BINARY_DIR}/packaging/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES config/production.yaml config/dev.yaml
  DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
# Globbed at install time, so pages added to docs/ need no change here.
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md" PATTERN benchmarks EXCLUDE)

# --- CPack: the Debian package ----------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ocirelay)
set(CPACK_PACKAGE_VENDOR ocirelay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${OCIRELAY_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "relay of OCI Events to Oracle Integration")
set(CPACK_PACKAGE_DESCRIPTION
  "ocirelayd takes OCI Events deliveries (from an OCI Notifications HTTPS
subscription, or as raw events), filters them with the OCI Events rule
language, stores every accepted event durably in SQLite before answering, and
relays it to Oracle Integration REST triggers with retries, backoff and dead
letters. ocirelayctl inspects the queue and the dead letters of a running
daemon.

The package creates the ocirelay system user and installs the systemd unit
ocirelay.service, but neither enables nor starts it: edit
/etc/ocirelay/ocirelay.yaml, then run systemctl enable --now ocirelay.")
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${OCIRELAY_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# A portable build needs only glibc 2.34 (tests/package/check_binaries.sh
# checks it), so one package installs on Debian 12 and Ubuntu 22.04 and
# 24.04. Otherwise the shared-library dependencies come from dpkg-shlibdeps
# (package dpkg-dev, and `file`). The maintainer scripts use groupadd and
# useradd, from passwd (priority required).
if(OCIRELAY_PORTABLE)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libc6 (>= 2.34), passwd")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
endif()
# Cross-compiled (cmake/toolchains/): the target's architecture, not the host's.
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSTEM_PROCESSOR STREQUAL "aarch64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
endif()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  "${PROJECT_SOURCE_DIR}/packaging/deb/conffiles"
  "${PROJECT_SOURCE_DIR}/packaging/deb/postinst"
  "${PROJECT_SOURCE_DIR}/packaging/deb/prerm"
  "${PROJECT_SOURCE_DIR}/packaging/deb/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# `package_source`: the sources without build trees and local state.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git/" "/build[^/]*/" "/var/" "\\.swp$")

include(CPack)
