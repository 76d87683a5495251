#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) in build-fuzz/ and runs
# each for a bounded time on a copy of its seed corpus (tests/fuzz/corpus/,
# never written to). A crash stops the run with the reproducer under
# build-fuzz/crashes/<target>/: copy it to tests/fuzz/regressions/<target>/
# and it becomes a test of every build (ctest unit.fuzz.<target>).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
# Environment: PGRE_FUZZ_BUILD_DIR (default build-fuzz).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${1:-20}
BUILD=${PGRE_FUZZ_BUILD_DIR:-build-fuzz}
TARGETS=(config env dsn web_config http)

mkdir -p "$BUILD"
if ! CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DPGRE_FUZZ=ON -DPGRE_SANITIZE=address,undefined >"$BUILD/configure.log" 2>&1; then
  cat "$BUILD/configure.log"
  exit 1
fi
# shellcheck disable=SC2046
cmake --build "$BUILD" -j2 --target $(printf 'fuzz_%s ' "${TARGETS[@]}") || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for t in "${TARGETS[@]}"; do
  work=$BUILD/corpus/$t
  crashes=$BUILD/crashes/$t
  rm -rf "$work" "$crashes"
  mkdir -p "$work" "$crashes"
  # New inputs go to the first directory (a scratch copy), the seeds and
  # regressions are read only.
  echo "=== fuzz_$t: ${SECONDS_PER_TARGET}s"
  if ! "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$crashes/" "$work" \
    "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t" \
    >"$BUILD/fuzz_$t.log" 2>&1; then
    echo "=== fuzz_$t: FAILED; reproducer(s):"
    ls -1 "$crashes"
    tail -50 "$BUILD/fuzz_$t.log"
    failed=1
  else
    grep -E '^#[0-9]+.*DONE|Done [0-9]+ runs' "$BUILD/fuzz_$t.log" | tail -1
  fi
done
exit $failed
