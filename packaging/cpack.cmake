# Debian package of pg_replica_exporter (CPack DEB): package pg-replica-exporter
# (Debian package names cannot contain '_'; files and the service keep it).
#
# Included at the end of the top-level CMakeLists.txt, after
#   install(TARGETS pg_replica_exporter RUNTIME DESTINATION bin)
# with
#   include(packaging/cpack.cmake)
#
# Build the package with packaging/build-deb.sh, or by hand:
#   cmake -S . -B build-deb -G Ninja -DCMAKE_BUILD_TYPE=Release \
#         -DCMAKE_INSTALL_PREFIX=/usr -DPGRE_BUILD_TESTS=OFF
#   cmake --build build-deb -j2 --target pg_replica_exporter
#   (cd build-deb && cpack -G DEB)
# docs/packaging.md describes the layout and the service.
#
# Files under /etc and /lib/systemd are installed to absolute paths: a plain
# `cmake --install` writes them there too (use DESTDIR to stage).

set(pgre_pkg_dir ${CMAKE_CURRENT_LIST_DIR})
get_filename_component(pgre_repo_dir ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

set(PGRE_PACKAGE_NAME pg-replica-exporter)
set(PGRE_PACKAGE_CONTACT
    "pg_replica_exporter maintainers <pg-replica-exporter@example.invalid>"
    CACHE STRING "Maintainer field of the Debian package")
set(PGRE_PACKAGE_RELEASE 1 CACHE STRING "Debian revision of the package")

# --- What goes where --------------------------------------------------------
# /usr/bin/pg_replica_exporter comes from the top-level install(TARGETS).
set(pgre_share share/pg_replica_exporter)
set(pgre_doc share/doc/${PGRE_PACKAGE_NAME})

# Configuration: conffiles (see conffiles below). Ownership and modes are
# finished by postinst: root:pg_replica_exporter 0640, root:root 0600.
install(FILES ${pgre_repo_dir}/config/pg_replica_exporter.yml
        DESTINATION /etc/pg_replica_exporter
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${pgre_pkg_dir}/default/pg_replica_exporter
        DESTINATION /etc/default
        PERMISSIONS OWNER_READ OWNER_WRITE)

# The service.
install(FILES ${pgre_pkg_dir}/systemd/pg_replica_exporter.service
        DESTINATION /lib/systemd/system
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

# Prometheus rules and Grafana dashboards, to copy or link into the
# Prometheus and Grafana configuration (docs/packaging.md, docs/dashboards.md).
file(GLOB pgre_rule_files CONFIGURE_DEPENDS ${pgre_repo_dir}/rules/*.yml)
install(FILES ${pgre_rule_files} DESTINATION ${pgre_share}/rules)
file(GLOB pgre_dashboard_files CONFIGURE_DEPENDS ${pgre_repo_dir}/dashboards/*.json)
install(FILES ${pgre_dashboard_files} DESTINATION ${pgre_share}/dashboards)

# Documentation and example configurations.
file(GLOB pgre_doc_files CONFIGURE_DEPENDS ${pgre_repo_dir}/README.md
     ${pgre_repo_dir}/docs/*.md)
install(FILES ${pgre_doc_files} DESTINATION ${pgre_doc})
install(FILES ${pgre_repo_dir}/config/pg_replica_exporter.yml
              ${pgre_repo_dir}/config/env.example
              ${pgre_repo_dir}/config/prometheus.yml
              ${pgre_repo_dir}/config/alertmanager.yml
        DESTINATION ${pgre_doc}/examples)

# --- Package metadata -------------------------------------------------------
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${PGRE_PACKAGE_NAME})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${PGRE_PACKAGE_CONTACT})
set(CPACK_PACKAGE_VENDOR "pg_replica_exporter")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "PostgreSQL streaming replication monitor for Prometheus")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_PACKAGE_NAME ${PGRE_PACKAGE_NAME})
set(CPACK_DEBIAN_PACKAGE_RELEASE ${PGRE_PACKAGE_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # NAME_VERSION-RELEASE_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE
    "https://github.com/pg-replica-exporter/pg_replica_exporter")
# The first line of the Description is CPACK_PACKAGE_DESCRIPTION_SUMMARY.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "pg_replica_exporter polls a PostgreSQL primary and its streaming read
replicas over libpq, measures replication lag on its own clock, models
round-robin read routing with failover to the primary, and serves
Prometheus metrics and JSON status endpoints.
.
The package contains the agent with a hardened systemd service, an example
configuration, Prometheus alert and recording rules and Grafana dashboards.")

# Run-time libraries: computed by dpkg-shlibdeps from what the binary really
# links (libpq5, libevent-core-2.1-7, libevent-extra-2.1-7,
# libevent-openssl-2.1-7, libevent-pthreads-2.1-7,
# libssl3, zlib1g, libcrypt1, libprometheus-cpp-core1.0, libyaml-cpp0.7,
# libspdlog1.10, libfmt9, libstdc++6, libgcc-s1, libc6 on Debian 12), else
# the Debian 12 list. TLS is OpenSSL linked, not loaded by file name, so
# these are all it needs. adduser: postinst creates the system user.
find_program(PGRE_DPKG_SHLIBDEPS dpkg-shlibdeps)
if(PGRE_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
else()
  set(CPACK_DEBIAN_PACKAGE_DEPENDS
      "adduser, libc6 (>= 2.34), libcrypt1 (>= 1:4.1.0), libevent-core-2.1-7 (>= 2.1.8), libevent-extra-2.1-7 (>= 2.1.8), libevent-openssl-2.1-7 (>= 2.1.8), libevent-pthreads-2.1-7 (>= 2.1.8), libfmt9 (>= 9.1.0), libgcc-s1 (>= 3.0), libpq5 (>= 15), libprometheus-cpp-core1.0 (>= 1.0.1), libspdlog1.10 (>= 1:1.10.0), libssl3 (>= 3.0.0), libstdc++6 (>= 12), libyaml-cpp0.7 (>= 0.7.0), zlib1g (>= 1:1.2.0)")
endif()
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "prometheus, prometheus-alertmanager")

# Maintainer scripts and the conffiles list (CPack does not mark /etc files
# as conffiles by itself).
set(pgre_conffiles ${CMAKE_CURRENT_BINARY_DIR}/packaging/conffiles)
file(WRITE ${pgre_conffiles}
     "/etc/pg_replica_exporter/pg_replica_exporter.yml\n"
     "/etc/default/pg_replica_exporter\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${pgre_pkg_dir}/debian/postinst
    ${pgre_pkg_dir}/debian/prerm
    ${pgre_pkg_dir}/debian/postrm
    ${pgre_conffiles})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# `cpack --config CPackSourceConfig.cmake`: the sources without build trees.
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\\\.git/" "/build[^/]*/" "/\\\\.cache/" "__pycache__")

include(CPack)
