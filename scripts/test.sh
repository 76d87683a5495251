#!/usr/bin/env bash
# Builds pg_replica_exporter and runs every test tier, as CI does:
#   1. dependencies (scripts/install-deps.sh)
#   2. Debug build in build/ (Ninja, -j2), then ctest by label:
#      unit, integration (real PostgreSQL clusters), e2e (the agent binary
#      against a cluster), rules (promtool/amtool), and any unlabelled test
#   3. ASan+UBSan build in build-asan/: unit and integration tests
#   4. TSan build in build-tsan/: unit tests
# Prints timings, and as its last line "summary: N passed, M failed" where
# each counts build steps and ctest runs. Exits non-zero if anything failed.
#
#   scripts/test.sh [--no-sanitizers] [--no-deps]
# Environment: PGRE_BUILD_DIR (default build; sanitizer dirs get -asan and
# -tsan appended), PGRE_ASAN_INTEGRATION=0 to run only unit tests under ASan.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

sanitizers=1
deps=1
for arg in "$@"; do
  case "$arg" in
    --no-sanitizers) sanitizers=0 ;;
    --no-deps) deps=0 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

BUILD=${PGRE_BUILD_DIR:-build}
ASAN_BUILD=${BUILD}-asan
TSAN_BUILD=${BUILD}-tsan
JOBS=2
CTEST_ARGS=(--output-on-failure --timeout 600)

passed=0
failed=0
failures=()
timings=()
start_all=$SECONDS

# step NAME COMMAND...: runs COMMAND, records pass/fail and its duration.
step() {
  local name=$1 t0=$SECONDS rc
  shift
  echo
  echo "=== $name"
  "$@"
  rc=$?
  local dt=$((SECONDS - t0))
  if [[ $rc -eq 0 ]]; then
    passed=$((passed + 1))
    timings+=("$(printf '%-48s ok     %4ds' "$name" "$dt")")
    echo "=== $name: ok (${dt}s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    timings+=("$(printf '%-48s FAILED %4ds' "$name" "$dt")")
    echo "=== $name: FAILED (exit $rc, ${dt}s)"
  fi
  return $rc
}

# ctest_tier BUILD_DIR LABEL [extra ctest args]: the tests labelled LABEL;
# skipped (not counted) when there are none.
ctest_tier() {
  local dir=$1 label=$2
  shift 2
  local count
  count=$(ctest --test-dir "$dir" -N -L "^${label}\$" 2>/dev/null |
    sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
  if [[ "${count:-0}" -eq 0 ]]; then
    echo "=== $dir: no tests labelled $label, skipped"
    timings+=("$(printf '%-48s skipped (no tests)' "ctest $dir -L $label")")
    return 0
  fi
  step "ctest $dir -L $label ($count)" \
    ctest --test-dir "$dir" -L "^${label}\$" "${CTEST_ARGS[@]}" "$@"
}

# The test binaries of the `unit` label: every *_tests target except the
# integration and e2e tiers.
unit_targets() {
  ninja -C "$1" -t targets all 2>/dev/null |
    sed -n 's/^\([A-Za-z0-9_]*_tests\): phony$/\1/p' |
    grep -vE '^(cmake_.*|integration_tests|e2e_tests)$' | sort -u
}

# configure DIR [cmake args]
configure() {
  local dir=$1
  shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug "$@" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
}

summary() {
  echo
  echo "=== timings"
  printf '  %s\n' "${timings[@]}"
  printf '  %-48s        %4ds\n' "total" "$((SECONDS - start_all))"
  if [[ ${#failures[@]} -gt 0 ]]; then
    echo "=== failed: ${failures[*]}"
  fi
  echo "summary: $passed passed, $failed failed"
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

# 2. Debug build and every tier.
mkdir -p "$BUILD"
if step "configure $BUILD" configure "$BUILD" -DPGRE_SANITIZE= &&
  step "build $BUILD" cmake --build "$BUILD" -j"$JOBS"; then
  ctest_tier "$BUILD" unit -j"$JOBS"
  ctest_tier "$BUILD" integration
  ctest_tier "$BUILD" e2e
  ctest_tier "$BUILD" rules -j"$JOBS"
  # Anything without a tier label (including Catch's *_NOT_BUILT markers).
  others=$(ctest --test-dir "$BUILD" -N -LE '^(unit|integration|e2e|rules)$' 2>/dev/null |
    sed -n 's/^Total Tests: \([0-9]*\)$/\1/p')
  if [[ "${others:-0}" -gt 0 ]]; then
    step "ctest $BUILD unlabelled ($others)" ctest --test-dir "$BUILD" \
      -LE '^(unit|integration|e2e|rules)$' "${CTEST_ARGS[@]}"
  fi
fi

if [[ $sanitizers -eq 1 ]]; then
  # 3. ASan + UBSan: unit tests, and integration tests (they exercise the
  # libpq and HTTP paths against real servers).
  mkdir -p "$ASAN_BUILD"
  if step "configure $ASAN_BUILD" configure "$ASAN_BUILD" -DPGRE_SANITIZE=address,undefined; then
    asan_targets=$(unit_targets "$ASAN_BUILD")
    asan_integration=${PGRE_ASAN_INTEGRATION:-1}
    if [[ $asan_integration -eq 1 ]]; then asan_targets+=" integration_tests"; fi
    # shellcheck disable=SC2086
    if step "build $ASAN_BUILD" cmake --build "$ASAN_BUILD" -j"$JOBS" --target $asan_targets; then
      ctest_tier "$ASAN_BUILD" unit -j"$JOBS"
      if [[ $asan_integration -eq 1 ]]; then ctest_tier "$ASAN_BUILD" integration; fi
    fi
  fi

  # 4. TSan: unit tests (the concurrency lives in the modules).
  mkdir -p "$TSAN_BUILD"
  if step "configure $TSAN_BUILD" configure "$TSAN_BUILD" -DPGRE_SANITIZE=thread; then
    tsan_targets=$(unit_targets "$TSAN_BUILD")
    # shellcheck disable=SC2086
    if step "build $TSAN_BUILD" cmake --build "$TSAN_BUILD" -j"$JOBS" --target $tsan_targets; then
      ctest_tier "$TSAN_BUILD" unit -j"$JOBS"
    fi
  fi
fi

summary
[[ $failed -eq 0 ]]
