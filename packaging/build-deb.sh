#!/bin/sh
# Builds the Debian package pg-replica-exporter_<version>-<release>_<arch>.deb.
#
#   packaging/build-deb.sh [BUILD_DIR]     (default: build-deb in the repository)
#
# A release build with Debian's hardening flags (dpkg-buildflags), no tests,
# the man page (help2man) and changelog, then `cpack -G DEB`. JOBS (default 2) sets the build parallelism. Prints
# the path of the package. Needs cmake, ninja, dpkg-dev and the -dev
# packages of scripts/install-deps.sh (help2man
# included). See docs/packaging.md.
set -eu

src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$src/build-deb"}
jobs=${JOBS:-2}

cd "$src"  # dpkg-buildflags maps this directory out of the debug info
export DEB_BUILD_MAINT_OPTIONS="hardening=+all"
cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
ldflags="$(dpkg-buildflags --get LDFLAGS)"

# Until the top-level CMakeLists.txt includes packaging/cpack.cmake, load it
# at the end of project().
set --
if ! grep -q '^[[:space:]]*include(packaging/cpack.cmake)' "$src/CMakeLists.txt"; then
  set -- "-DCMAKE_PROJECT_INCLUDE=$src/packaging/cpack.cmake"
fi

# Release semantics (NDEBUG) with Debian's -O2 instead of CMake's -O3.
cmake -S "$src" -B "$build" -G Ninja "$@" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-DNDEBUG" \
  -DCMAKE_CXX_FLAGS="$cxxflags" \
  -DCMAKE_EXE_LINKER_FLAGS="$ldflags" \
  -DCMAKE_INSTALL_PREFIX=/usr \
  -DPGRE_BUILD_TESTS=OFF \
  -DPGRE_PACKAGE_DOCS_REQUIRED=ON
# The agent, its man page (help2man) and the Debian changelog.
cmake --build "$build" -j"$jobs" --target pg_replica_exporter pgre_package_docs
(cd "$build" && cpack -G DEB)
ls "$build"/pg-replica-exporter_*.deb
