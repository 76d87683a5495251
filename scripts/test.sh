#!/usr/bin/env bash
# Builds pg_replica_exporter and runs every test tier, as CI does:
#   1. dependencies (scripts/install-deps.sh)
#   2. Debug build in build/ (Ninja, -j2)
#   3. three lanes at once (2 cores; builds run niced so that tests keep
#      their timing):
#      tests:  ctest by label: unit, rules, integration (real PostgreSQL
#              clusters), e2e (the agent, Prometheus, Alertmanager),
#              browser (the status page in headless chromium; screenshots
#              in BUILD/artifacts/browser/), ha (real Patroni with etcd,
#              and pg_auto_failover), then
#              versions (the [versions] cases against PostgreSQL 13, 17 and
#              18 from debootstrapped trees, scripts/pg-tree.sh)
#      builds: the PostgreSQL trees (cached tarballs), the ASan+UBSan build
#              in build-asan/, the TSan build in build-tsan/, then the
#              libFuzzer targets run for PGRE_FUZZ_SECONDS (20) each
#              (scripts/fuzz.sh, build-fuzz/)
#      package: the `package` step, scripts/package-test.sh: the .deb
#              (release build in BUILD-package/deb, niced), lintian, and a
#              Debian 12 tree (cached tarball) booted with systemd-nspawn
#              that installs, runs, reloads, upgrades and purges it against
#              a real cluster; artifacts (journal on failure) in
#              BUILD-package/artifacts
#   4. two lanes again: ASan+UBSan unit and integration tests; TSan unit
#      tests and the [tsan] cases (pollers, routing, HTTP and reloads under
#      load) against the TSan-built agent
# Every lane logs to BUILD/lanes/<lane>.log; a failing step's log is printed.
# Prints timings, and as its last line "summary: N passed, M failed" where
# each counts build steps and ctest runs. Exits non-zero if anything failed.
#
#   scripts/test.sh [--no-sanitizers] [--no-deps] [--no-versions] [--no-package]
# Environment: PGRE_BUILD_DIR (default build; sanitizer dirs get -asan and
# -tsan appended), PGRE_ASAN_INTEGRATION=0 to run only unit tests under ASan,
# PGRE_PG_VERSIONS (default "13 17 18"), PGRE_CACHE_DIR (chroot tarballs,
# default /var/cache/pg_replica_exporter-ci, outside the clone).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

sanitizers=1
deps=1
versions=1
package=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    --no-deps) deps=0 ;;
    --no-versions) versions=0 ;;
    --no-package) package=0 ;;
    -h | --help) sed -n '2,32p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

BUILD=${PGRE_BUILD_DIR:-build}
ASAN_BUILD=${BUILD}-asan
TSAN_BUILD=${BUILD}-tsan
PG_VERSIONS=${PGRE_PG_VERSIONS:-13 17 18}
JOBS=2
CTEST_ARGS=(--output-on-failure --timeout 600)
LANES=$BUILD/lanes
RESULTS=$LANES/results
start_all=$SECONDS

mkdir -p "$LANES"
: >"$RESULTS"

# step NAME COMMAND...: runs COMMAND, records "ok|FAILED NAME SECONDS" in
# $RESULTS (lanes are subshells: the file is how they report).
step() {
  local name=$1 t0=$SECONDS rc
  shift
  echo
  echo "=== $name"
  "$@"
  rc=$?
  local dt=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    printf 'ok|%s|%d\n' "$name" "$dt" >>"$RESULTS"
    echo "=== $name: ok (${dt}s)"
  else
    printf 'FAILED|%s|%d\n' "$name" "$dt" >>"$RESULTS"
    echo "=== $name: FAILED (exit $rc, ${dt}s)"
  fi
  return $rc
}

# ctest_tier BUILD_DIR LABEL [extra ctest args]: the tests labelled LABEL;
# skipped (not counted) when there are none. $TIER_NOTE, when set, is added
# to the step's name.
ctest_tier() {
  local dir=$1 label=$2
  shift 2
  local count
  count=$(ctest --test-dir "$dir" -N -L "^${label}\$" 2>/dev/null |
    sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
  if [[ "${count:-0}" -eq 0 ]]; then
    echo "=== $dir: no tests labelled $label, skipped"
    printf 'skipped|ctest %s -L %s%s|0\n' "$dir" "$label" "${TIER_NOTE:-}" >>"$RESULTS"
    return 0
  fi
  step "ctest $dir -L $label${TIER_NOTE:-} ($count)" \
    ctest --test-dir "$dir" -L "^${label}\$" "${CTEST_ARGS[@]}" "$@"
}

# The test binaries of the `unit` label: every *_tests target except the
# integration and e2e tiers.
unit_targets() {
  ninja -C "$1" -t targets all 2>/dev/null |
    sed -n 's/^\([A-Za-z0-9_]*_tests\): phony$/\1/p' |
    grep -vE '^(cmake_.*|integration_tests|e2e_tests|browser_tests)$' | sort -u
}

# configure DIR [cmake args]
configure() {
  local dir=$1
  shift
  mkdir -p "$dir"
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
}

# lane NAME FUNCTION: runs FUNCTION in the background with its output in
# $LANES/NAME.log; `wait_lanes` waits for all and prints failed lanes' logs.
lane_pids=()
lane_names=()
lane() {
  local name=$1 fn=$2
  "$fn" >"$LANES/$name.log" 2>&1 &
  lane_pids+=($!)
  lane_names+=("$name")
  echo "=== lane $name started (log: $LANES/$name.log)"
}
wait_lanes() {
  local i
  for i in "${!lane_pids[@]}"; do
    wait "${lane_pids[$i]}"
    local log=$LANES/${lane_names[$i]}.log
    if grep -q '^=== .*: FAILED' "$log"; then
      echo "=== lane ${lane_names[$i]}: failures; its log follows"
      cat "$log"
    else
      echo "=== lane ${lane_names[$i]}: ok"
      grep '^=== .*: ok (' "$log"
    fi
  done
  lane_pids=()
  lane_names=()
}

summary() {
  local passed failed
  passed=$(grep -c '^ok|' "$RESULTS")
  failed=$(grep -c '^FAILED|' "$RESULTS")
  echo
  echo "=== timings"
  while IFS='|' read -r status name secs; do
    printf '  %-56s %-7s %4ss\n' "$name" "$status" "$secs"
  done <"$RESULTS"
  printf '  %-56s         %4ds\n' "total" "$((SECONDS - start_all))"
  if [[ $failed -gt 0 ]]; then
    echo "=== failed: $(grep '^FAILED|' "$RESULTS" | cut -d'|' -f2 | paste -sd, -)"
  fi
  echo "summary: $passed passed, $failed failed"
  [[ $failed -eq 0 ]]
}

export CI=${CI:-}
# Sanitizer settings; the ctest runs inherit them.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# 1. Dependencies: nothing works without them.
if [[ $deps -eq 1 ]]; then
  if ! step "install dependencies" "$ROOT/scripts/install-deps.sh"; then
    summary
    exit 1
  fi
fi

# 2. The Debug build: every tier needs it.
if ! { step "configure $BUILD" configure "$BUILD" -DPGRE_SANITIZE= &&
  step "build $BUILD" cmake --build "$BUILD" -j"$JOBS"; }; then
  summary
  exit 1
fi

# 3a. Tests of the Debug build.
debug_tests() {
  ctest_tier "$BUILD" unit -j"$JOBS"
  ctest_tier "$BUILD" rules -j"$JOBS"
  ctest_tier "$BUILD" integration
  ctest_tier "$BUILD" e2e
  ctest_tier "$BUILD" browser
  # Inside the HA managers: real Patroni (etcd) and pg_auto_failover.
  ctest_tier "$BUILD" ha
  # Anything without a tier label (including Catch's *_NOT_BUILT markers).
  local others
  others=$(ctest --test-dir "$BUILD" -N -LE '^(unit|integration|e2e|browser|rules|versions|tsan|ha)$' 2>/dev/null |
    sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
  if [[ "${others:-0}" -gt 0 ]]; then
    step "ctest $BUILD unlabelled ($others)" ctest --test-dir "$BUILD" \
      -LE '^(unit|integration|e2e|browser|rules|versions|tsan|ha)$' "${CTEST_ARGS[@]}"
  fi
  if [[ $versions -eq 1 ]]; then
    local v runner
    for v in $PG_VERSIONS; do
      # The builds lane prepared the tree; this waits for its lock if not.
      if ! runner=$("$ROOT/scripts/pg-tree.sh" "$v"); then
        printf 'FAILED|PostgreSQL %s tree|0\n' "$v" >>"$RESULTS"
        continue
      fi
      PGRE_PG_RUNNER=$runner PGRE_PG_EXPECT_MAJOR=$v TIER_NOTE=", PostgreSQL $v" \
        ctest_tier "$BUILD" versions
    done
  fi
}

# 3b. Builds, niced: the PostgreSQL trees, then the sanitizer builds.
builds() {
  if [[ $versions -eq 1 ]]; then
    local v
    for v in $PG_VERSIONS; do
      step "PostgreSQL $v tree" nice -n 15 "$ROOT/scripts/pg-tree.sh" "$v"
    done
  fi
  [[ $sanitizers -eq 1 ]] || return 0
  if step "configure $ASAN_BUILD" configure "$ASAN_BUILD" -DPGRE_SANITIZE=address,undefined; then
    local targets
    targets=$(unit_targets "$ASAN_BUILD")
    if [[ ${PGRE_ASAN_INTEGRATION:-1} -eq 1 ]]; then targets+=" integration_tests"; fi
    # shellcheck disable=SC2086
    step "build $ASAN_BUILD" nice -n 15 cmake --build "$ASAN_BUILD" -j"$JOBS" --target $targets
  fi
  if step "configure $TSAN_BUILD" configure "$TSAN_BUILD" -DPGRE_SANITIZE=thread; then
    # The unit tests, and the agent with the integration binaries for the
    # [tsan] cases (its threads under load).
    # shellcheck disable=SC2086
    step "build $TSAN_BUILD" nice -n 15 cmake --build "$TSAN_BUILD" -j"$JOBS" \
      --target $(unit_targets "$TSAN_BUILD") integration_tests
  fi
  # libFuzzer targets (clang, ASan+UBSan), each for a bounded time.
  step "fuzz (${PGRE_FUZZ_SECONDS:-20}s per target)" nice -n 15 \
    "$ROOT/scripts/fuzz.sh" "${PGRE_FUZZ_SECONDS:-20}"
}

# 3c. The package tier (its own release build, niced; the container is
# mostly waiting on systemd and apt).
package_tier() {
  step "package" "$ROOT/scripts/package-test.sh" "$BUILD-package"
}

lane tests debug_tests
lane builds builds
if [[ $package -eq 1 ]]; then lane package package_tier; fi
wait_lanes

# 4. Sanitizer tests, two lanes.
built() { grep -q "^ok|build $1|" "$RESULTS"; }
asan_tests() {
  ctest_tier "$ASAN_BUILD" unit -j"$JOBS"
  if [[ ${PGRE_ASAN_INTEGRATION:-1} -eq 1 ]]; then ctest_tier "$ASAN_BUILD" integration; fi
}
tsan_tests() {
  ctest_tier "$TSAN_BUILD" unit -j"$JOBS"
  ctest_tier "$TSAN_BUILD" tsan
}
if [[ $sanitizers -eq 1 ]]; then
  if built "$ASAN_BUILD"; then lane asan asan_tests; fi
  if built "$TSAN_BUILD"; then lane tsan tsan_tests; fi
  wait_lanes
fi

summary
