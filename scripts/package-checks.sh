#!/bin/bash
# scripts/package-checks.sh — run by scripts/package-test.sh inside a booted
# Debian 12 container (systemd as PID 1), as the Type=simple unit
# pgre-package-test.service; not meant to be run by hand on a real system.
#
# /pgre-test (bound from the host) holds env (the host cluster's ports, the
# agent's port, the monitoring role's password, the versions),
# debs/previous.deb and debs/current.deb, and guide/: docs/getting-started.md
# as a script (run.sh, its settings in settings.sh), the package under its
# own name, and shipped.txt (each package file the guide names, beside the
# repository's copy). After the package's own checks, which end with it
# purged, the guide runs in full, word for word. Every check prints "ok NAME" or
# "FAILED NAME: why"; measured figures print as "figure NAME VALUE".
# The outcome goes to /pgre-test/result ("PASS n checks" or "FAIL ..."), the
# log to /pgre-test/checks.log, the journal to /pgre-test/journal.txt and
# /pgre-test/service-journal.txt; then the unit ends and the container
# powers off (SuccessAction=/FailureAction=).
#
# Only bash, coreutils, grep, sed, gawk/mawk, util-linux, apt, dpkg and
# systemd are here (a minbase tree): HTTP is spoken over bash's /dev/tcp, so
# that no client pulls in libraries the package might forget to depend on.
set -uo pipefail

T=/pgre-test
exec > >(tee "$T/checks.log") 2>&1
# shellcheck source=/dev/null
source "$T/env"
export DEBIAN_FRONTEND=noninteractive
U=pg_replica_exporter
PKG=pg-replica-exporter
CONF=/etc/pg_replica_exporter/pg_replica_exporter.yml
DEFAULTS=/etc/default/pg_replica_exporter
DROPIN=/etc/systemd/system/$U.service.d
CRED=/etc/pg_replica_exporter/db-password
CRED_PATH=/run/credentials/$U.service/db-password
EXAMPLES=/usr/share/doc/$PKG/examples
passed=0
failed=0
failures=""

ok() { echo "ok $1"; passed=$((passed + 1)); }
bad() {
  echo "FAILED $1: $2"
  failed=$((failed + 1))
  failures+="$1; "
}
# check NAME COMMAND...: ok when COMMAND succeeds.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name" "$(printf '%q ' "$@")"; fi
}
# expect NAME WANT GOT
expect() {
  if [[ $3 == "$2" ]]; then ok "$1"; else bad "$1" "want '$2', got '$3'"; fi
}
figure() { echo "figure $1 $2"; }

# require NAME COMMAND...: check, and stop here when it fails (what
# follows would only fail after it).
require() {
  check "$@" && return 0
  echo "=== stopping: the checks after this one need it"
  exit 0
}

prop() { systemctl show -P "$1" "$U"; }
# The monotonic clock in µs, as systemd's *TimestampMonotonic properties
# (/proc/uptime: 10 ms resolution; no suspend here).
mono_usec() {
  local up _
  read -r up _ </proc/uptime
  echo $((${up%.*} * 1000000 + 10#${up#*.} * 10000))
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it
# succeeds (0) or the deadline passes (1).
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@"; do
    [[ $SECONDS -ge $deadline ]] && return 1
    sleep 0.2
  done
}

# http PATH: GET over HTTP/1.0 from the agent; sets HTTP_STATUS and
# HTTP_BODY. Returns 0 when an answer came.
http() {
  HTTP_STATUS=0 HTTP_BODY=""
  local resp
  { exec 3<>"/dev/tcp/127.0.0.1/$AGENT_PORT"; } 2>/dev/null || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$1" >&3
  resp=$(timeout 10 cat <&3 | tr -d '\r')
  exec 3<&- 3>&-
  HTTP_STATUS=$(printf '%s\n' "$resp" | sed -n '1s/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p')
  HTTP_BODY=$(printf '%s\n' "$resp" | sed '1,/^$/d')
  [[ -n $HTTP_STATUS ]]
}
http_ok() { http "$1" && [[ $HTTP_STATUS == 200 ]]; }
# metric_is REGEX: a /metrics line matches (anchored at the start).
metric_is() { http_ok /metrics && grep -qE "^$1" <<<"$HTTP_BODY"; }
all_up() {
  local s
  for s in primary replica1 replica2; do
    metric_is "pg_replica_up\\{[^}]*cluster=\"$1\"[^}]*server=\"$s\"[^}]*\\} 1\$" ||
      metric_is "pg_replica_up\\{[^}]*server=\"$s\"[^}]*cluster=\"$1\"[^}]*\\} 1\$" || return 1
  done
}
active() { [[ $(prop ActiveState) == active && $(prop SubState) == running ]]; }
main_pid() { prop MainPID; }
new_main_pid() { local p; p=$(main_pid); [[ $p != 0 && $p != "$1" ]] && active; }

# config NAME USER [extra server keys]: the agent's YAML for the host cluster.
config() {
  local name=$1 user=$2 extra=${3:-}
  cat <<EOF
# written by package-checks.sh: the host's cluster
cluster: $name
poll_interval: 500ms
connect_timeout: 2s
query_timeout: 2s
routing:
  health_check_interval: 1s
  synthetic_check_interval: 1s
primary:
  name: primary
  dsn: host=127.0.0.1 port=$PRIMARY_PORT user=$user dbname=postgres
$extra
replicas:
  - name: replica1
    dsn: host=127.0.0.1 port=$REPLICA1_PORT user=$user dbname=postgres
$(sed 's/^/  /' <<<"$extra")
  - name: replica2
    dsn: host=127.0.0.1 port=$REPLICA2_PORT user=$user dbname=postgres
$(sed 's/^/  /' <<<"$extra")
EOF
}
write_config() { config "$@" >"$CONF"; }

apt_install() {
  apt-get install -y -q -o Dpkg::Options::=--force-confdef \
    -o Dpkg::Options::=--force-confold "$@" </dev/null
}

finish() {
  echo
  echo "=== $passed passed, $failed failed"
  journalctl -b --no-pager -o short-monotonic >"$T/journal.txt" 2>&1
  journalctl -b --no-pager -o short-monotonic -u "$U" >"$T/service-journal.txt" 2>&1
  if [[ $failed -eq 0 ]]; then
    echo "PASS $passed checks" >"$T/result"
  else
    echo "FAIL $failed of $((passed + failed)): $failures" >"$T/result"
  fi
  sync
  exit 0
}
trap finish EXIT

echo "=== in the container: $(cat /proc/1/comm) as PID 1, $(systemctl --version | head -n1)"
expect "systemd is PID 1" systemd "$(cat /proc/1/comm)"
wait_until 60 bash -c '[[ $(systemctl is-system-running) =~ ^(running|degraded)$ ]]'
echo "system state: $(systemctl is-system-running)"

# ------------------------------------------------------------ install
echo "=== apt-get update; first install (the previous build, $PREV_VERSION)"
apt-get update -q </dev/null >/dev/null || apt-get update -q </dev/null
t0=$SECONDS
require "apt-get install ./previous.deb (its Depends from the archive)" \
  apt_install "$T/debs/previous.deb"
figure install_seconds $((SECONDS - t0))
expect "installed version" "$PREV_VERSION" "$(dpkg-query -W -f='${Version}' $PKG)"
expect "enabled on first install" enabled "$(systemctl is-enabled $U)"
expect "not started on first install" inactive "$(systemctl is-active $U)"
check "system user" getent passwd $U
expect "config owner and mode" "root:$U 640" "$(stat -c '%U:%G %a' "$CONF")"
expect "defaults owner and mode" "root:root 600" "$(stat -c '%U:%G %a' "$DEFAULTS")"

# ------------------------------------------------------------ start
echo "=== configure and start"
write_config pkgtest postgres
sed -i "s|^ARGS=.*|ARGS=\"--web.listen-address=127.0.0.1:$AGENT_PORT\"|" "$DEFAULTS"
t0=$(mono_usec)
require "systemctl start" systemctl start $U
t1=$(mono_usec)
figure start_ms $(((t1 - t0) / 1000))
# Type=notify: `systemctl start` returns once the agent said READY=1, i.e.
# once it listens; no retry here.
check "port answers as soon as start returns" http_ok /-/healthy
expect "Type" notify "$(prop Type)"
check "active (running)" active
check "status line" grep -q "servers up" <<<"$(prop StatusText)"
echo "StatusText: $(prop StatusText)"
check "/metrics shows the cluster" wait_until 30 all_up pkgtest
check "/-/ready" wait_until 30 http_ok /-/ready
check "status line: 3/3 servers up, 2 in rotation" \
  wait_until 30 bash -c "systemctl show -P StatusText $U | grep -q '^3/3 servers up, 2 in rotation'"
echo "StatusText: $(prop StatusText)"

# ------------------------------------------------------------ upgrade
echo "=== upgrade to $DEB_VERSION: the changed conffiles stay, the service restarts"
conf_sum=$(sha256sum "$CONF" "$DEFAULTS")
pid=$(main_pid)
require "apt-get install ./current.deb (upgrade)" apt_install "$T/debs/current.deb"
expect "upgraded version" "$DEB_VERSION" "$(dpkg-query -W -f='${Version}' $PKG)"
expect "changed conffiles kept" "$conf_sum" "$(sha256sum "$CONF" "$DEFAULTS")"
check "no .dpkg-* files" bash -c "! ls /etc/pg_replica_exporter/*.dpkg-* /etc/default/*.dpkg-* 2>/dev/null | grep -q ."
check "restarted by the upgrade" wait_until 20 new_main_pid "$pid"
expect "config owner and mode after upgrade" "root:$U 640" "$(stat -c '%U:%G %a' "$CONF")"
check "/metrics after the upgrade" wait_until 30 all_up pkgtest

# ------------------------------------------------------------ one version
echo "=== one version: --version, build_info, package, changelog, man page"
ver_line=$(/usr/bin/pg_replica_exporter --version | head -n1)
echo "--version: $ver_line"
check "--version is the package's" grep -q "^pg_replica_exporter $VERSION " <<<"$ver_line"
check "build_info is the package's" metric_is "pg_replica_exporter_build_info\\{[^}]*version=\"$VERSION\""
check "changelog.Debian is the package's" \
  bash -c "zcat /usr/share/doc/$PKG/changelog.Debian.gz | head -n1 | grep -qF '$PKG ($DEB_VERSION)'"
check "man page is the package's" \
  bash -c "zcat /usr/share/man/man1/$U.1.gz | grep '^\\.TH' | grep -qF '$VERSION'"
check "copyright (machine-readable)" grep -q '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/' \
  /usr/share/doc/$PKG/copyright

# ------------------------------------------------------------ the unit
echo "=== systemd-analyze"
verify_out=$(systemd-analyze verify $U.service 2>&1)
expect "systemd-analyze verify: no complaints" "" "$verify_out"
sec=$(systemd-analyze security $U.service 2>&1 | tail -n 1)
echo "$sec"
exposure=$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$sec")
figure exposure "$exposure"
check "exposure <= 1.5" systemd-analyze security --threshold=15 $U.service

# ------------------------------------------------------------ reload
echo "=== reload: a good config, a bad one"
pid=$(main_pid)
write_config pkgtest2 postgres
check "systemctl reload (good config)" systemctl reload $U
check "reloaded: the new config serves" wait_until 30 all_up pkgtest2
check "reload gauge 1" metric_is 'pg_replica_exporter_config_last_reload_successful 1'
expect "same process after the reload" "$pid" "$(main_pid)"
check "no /bin/kill in the tree (procps is not a dependency)" test ! -e /bin/kill

since=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1 # the journal's --since has one-second resolution
write_config pkgtest3 postgres
echo "bogus_key: 1" >>"$CONF"
if systemctl reload $U; then
  bad "systemctl reload (bad config) fails" "it succeeded"
else
  ok "systemctl reload (bad config) fails"
fi
check "active after the refused reload" active
expect "same process after the refused reload" "$pid" "$(main_pid)"
check "the error is in the journal, with file, line and key" \
  bash -c "journalctl -u $U --since '$since' --no-pager | grep -q '$CONF:[0-9]*: bogus_key: unknown key'"
check "the old config still serves" all_up pkgtest2

# SIGHUP straight to the agent (no check before it): it refuses by itself.
systemctl kill -s HUP --kill-who=main $U
check "agent refuses the bad config: reload gauge 0" \
  wait_until 20 metric_is 'pg_replica_exporter_config_last_reload_successful 0'
check "status line says so" wait_until 10 bash -c "systemctl show -P StatusText $U | grep -q 'reload refused'"
echo "StatusText: $(prop StatusText)"
check "active after the agent refused" active
check "the old config still serves (agent)" all_up pkgtest2
write_config pkgtest postgres
check "systemctl reload (good again)" systemctl reload $U
check "reload gauge back to 1" wait_until 20 metric_is 'pg_replica_exporter_config_last_reload_successful 1'

# ------------------------------------------------------------ credentials
echo "=== the password as a systemd credential (the shipped drop-in)"
mkdir -p "$DROPIN"
cp "$EXAMPLES/systemd/credentials.conf" "$DROPIN/credentials.conf"
install -m 0600 /dev/null "$CRED"
printf '%s\n' "$MON_PASSWORD" >"$CRED"
write_config pkgcred pgre_monitor "  password_file: $CRED_PATH"
systemctl daemon-reload
check "restart with the credential" systemctl restart $U
check "every server up as pgre_monitor (scram)" wait_until 30 all_up pkgcred
check "the service user cannot read the credential's source" \
  bash -c "! setpriv --reuid=$U --regid=$U --init-groups cat $CRED >/dev/null 2>&1"
check "the password is in no log" bash -c "! journalctl -b --no-pager | grep -qF '$MON_PASSWORD'"
http_ok /metrics
if grep -qF "$MON_PASSWORD" <<<"$HTTP_BODY"; then
  bad "the password is not in /metrics" "it is"
else
  ok "the password is not in /metrics"
fi

# ------------------------------------------------------------ watchdog
echo "=== WatchdogSec= (the shipped drop-in, 3 s here)"
sed 's/^WatchdogSec=.*/WatchdogSec=3s/' "$EXAMPLES/systemd/watchdog.conf" >"$DROPIN/watchdog.conf"
systemctl daemon-reload
check "restart with the watchdog" systemctl restart $U
expect "WatchdogUSec" 3s "$(prop WatchdogUSec)"
w0=$(prop WatchdogTimestampMonotonic)
check "keep-alives arrive" wait_until 10 bash -c "[[ \$(systemctl show -P WatchdogTimestampMonotonic $U) -gt $w0 ]]"
pid=$(main_pid)
restarts=$(prop NRestarts)
kill -STOP "$pid"
t0=$(mono_usec)
check "a frozen agent is restarted by the watchdog" wait_until 30 new_main_pid "$pid"
figure watchdog_restart_ms $((($(prop ExecMainStartTimestampMonotonic) - t0) / 1000))
expect "NRestarts after the watchdog" $((restarts + 1)) "$(prop NRestarts)"
check "the journal names the watchdog" bash -c "journalctl -u $U --no-pager | grep -q 'Watchdog timeout'"
rm -f "$DROPIN/watchdog.conf"
systemctl daemon-reload
systemctl restart $U
check "up again without the watchdog" wait_until 30 all_up pkgcred

# ------------------------------------------------------------ crash
echo "=== kill -9: restarted after RestartSec (5 s)"
pid=$(main_pid)
restarts=$(prop NRestarts)
t0=$(mono_usec)
kill -KILL "$pid"
check "restarted after kill -9" wait_until 30 new_main_pid "$pid"
gap_ms=$((($(prop ExecMainStartTimestampMonotonic) - t0) / 1000))
figure crash_restart_ms "$gap_ms"
check "after the 5 s backoff" test "$gap_ms" -ge 4500
expect "NRestarts after the crash" $((restarts + 1)) "$(prop NRestarts)"
check "/metrics after the crash" wait_until 30 all_up pkgcred

# ------------------------------------------------------------ stop
echo "=== stop"
t0=$SECONDS
check "systemctl stop" systemctl stop $U
stop_s=$((SECONDS - t0))
figure stop_seconds "$stop_s"
check "stopped within 10 s" test "$stop_s" -lt 10
expect "inactive after stop" inactive "$(systemctl is-active $U)"
expect "clean exit" "success 0" "$(prop Result) $(prop ExecMainStatus)"

# ------------------------------------------------------------ bad config
echo "=== a start with a bad config: failed, no restart loop"
since=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1
write_config pkgcred pgre_monitor "  password_file: $CRED_PATH"
echo "bogus_key: 1" >>"$CONF"
if systemctl start $U; then bad "start with a bad config fails" "it started"; else ok "start with a bad config fails"; fi
expect "failed, not auto-restart" "failed failed" "$(prop ActiveState) $(prop SubState)"
expect "exit status 2" "exit-code 2" "$(prop Result) $(prop ExecMainStatus)"
# (a manual start resets the counter: any restart would make it 1)
expect "no restart" 0 "$(prop NRestarts)"
check "the config error is in the journal" \
  bash -c "journalctl -u $U --since '$since' --no-pager | grep -q '$CONF:[0-9]*: bogus_key: unknown key'"
systemctl reset-failed $U

# ------------------------------------------------------------ remove, purge
echo "=== remove keeps the configuration; purge removes it"
write_config pkgcred pgre_monitor "  password_file: $CRED_PATH"
systemctl start $U
check "running before remove" wait_until 30 all_up pkgcred
check "the state file is written" wait_until 30 bash -c "ls /var/lib/pg_replica_exporter/ | grep -q ."
conf_sum=$(sha256sum "$CONF")
check "apt-get remove" apt-get remove -y -q $PKG </dev/null
expect "stopped by remove" inactive "$(systemctl is-active $U)"
check "no agent process" bash -c '! ls -l /proc/[0-9]*/exe 2>/dev/null | grep -q /usr/bin/pg_replica_exporter'
expect "config kept" "$conf_sum" "$(sha256sum "$CONF")"
check "defaults kept" test -f "$DEFAULTS"
expect "masked after remove" masked "$(systemctl is-enabled $U 2>&1)"
expect "package state" "deinstall ok config-files" "$(dpkg-query -W -f='${Status}' $PKG)"
# What the admin added (the drop-ins, the credential) is the admin's to remove.
rm -rf "$DROPIN" "$CRED"
systemctl daemon-reload
check "apt-get purge" apt-get purge -y -q $PKG </dev/null
check "config gone" test ! -e "$CONF"
check "defaults gone" test ! -e "$DEFAULTS"
check "/etc/pg_replica_exporter gone" test ! -e /etc/pg_replica_exporter
check "state directory gone" test ! -e /var/lib/pg_replica_exporter
check "no mask left" test ! -e /etc/systemd/system/$U.service
check "no deb-systemd-helper state left" \
  bash -c "! find /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked -name '*pg_replica_exporter*' 2>/dev/null | grep -q ."
check "no unit links left" bash -c "! find /etc/systemd -name '*pg_replica_exporter*' | grep -q ."
check "package gone" bash -c "! dpkg-query -W -f='\${Status}' $PKG 2>/dev/null | grep -q installed"

echo "=== a fresh install of $DEB_VERSION, then purge"
check "apt-get install ./current.deb (fresh)" apt_install "$T/debs/current.deb"
expect "enabled on fresh install" enabled "$(systemctl is-enabled $U)"
expect "not started on fresh install" inactive "$(systemctl is-active $U)"
check "apt-get purge (again)" apt-get purge -y -q $PKG </dev/null
check "nothing left" bash -c "! find /etc /var/lib -name '*pg_replica_exporter*' 2>/dev/null | grep -q ."

# ------------------------------------------------------------ getting started
echo "=== docs/getting-started.md, every step in order (settings: the host cluster's)"
G=$T/guide
check "docs/getting-started.md: every step runs" bash -c "cd '$G' && ./run.sh"
# What the guide names but CI cannot use (the dashboards: no Grafana here),
# and the rest it installs: the package's files are the repository's.
while read -r installed copy; do
  check "docs/getting-started.md names $installed: the shipped file" cmp "$installed" "$copy"
done <"$G/shipped.txt"
