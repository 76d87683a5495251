#!/bin/sh
# check_man_page.sh BINARY VERSION H2M: the man page help2man makes from
# BINARY (as the package build does, packaging/cpack.cmake) documents every
# flag of `BINARY --help` and of `BINARY route-check --help`, carries
# VERSION (the CMake project version), and so does `BINARY --version`.
set -eu
bin=$1 version=$2 h2m=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

help2man --no-info --section=1 --name="PostgreSQL streaming replication monitor for Prometheus" \
  --version-string="$version" --include="$h2m" --output="$tmp/page.1" "$bin"
# The roff source as text: \- is -, fonts dropped.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$tmp/page.1" >"$tmp/page.txt"

for cmd in "" "route-check"; do
  # shellcheck disable=SC2086 # no subcommand: no word
  "$bin" $cmd --help >"$tmp/help.txt"
  flags=$(grep -oE -- '(^|[ ,])--[a-z][a-z.-]*' "$tmp/help.txt" | sed 's/^[ ,]*//' | sort -u)
  [ -n "$flags" ] || { echo "no flags found in $bin $cmd --help"; fail=1; }
  for f in $flags; do
    if ! grep -qF -- "$f" "$tmp/page.txt"; then
      echo "man page lacks $f (of '$bin $cmd --help')"
      fail=1
    fi
  done
done

th=$(grep '^\.TH ' "$tmp/page.1")
case $th in
  *"$version"*) ;;
  *) echo "man page .TH line '$th' lacks version $version"; fail=1 ;;
esac
case $(grep -c '^\.SH' "$tmp/page.1") in
  0 | 1 | 2) echo "man page has too few sections"; fail=1 ;;
esac
grep -q '^\.SH "EXIT STATUS"' "$tmp/page.1" || { echo "man page lacks EXIT STATUS"; fail=1; }

got=$("$bin" --version | head -n1)
case $got in
  "pg_replica_exporter $version "*) ;;
  *) echo "--version says '$got', the project version is $version"; fail=1 ;;
esac

[ $fail -eq 0 ] && echo "man page: $(echo "$flags" | wc -l) route-check flags and every main flag documented; version $version"
exit $fail
