#!/bin/sh
# check_unit_file.sh UNIT: the packaged systemd unit is Type=notify, reloads
# without /bin/kill (procps is not a dependency), and
# `systemd-analyze security` rates its exposure at most 1.5
# (docs/packaging.md explains what remains).
set -eu
unit=$1
fail=0
grep -qx 'Type=notify' "$unit" || { echo "$unit: not Type=notify"; fail=1; }
if grep -E '^Exec[A-Za-z]*=.*(/usr)?/bin/kill' "$unit"; then
  echo "$unit: uses /bin/kill (procps), which the package does not depend on"
  fail=1
fi
out=$(systemd-analyze security --offline=yes "$unit" 2>&1 | tail -n 1)
echo "$out"
# --threshold counts tenths: 15 is an exposure of 1.5.
if ! systemd-analyze security --offline=yes --threshold=15 "$unit" >/dev/null 2>&1; then
  echo "$unit: exposure above 1.5"
  fail=1
fi
exit $fail
