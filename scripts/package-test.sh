#!/usr/bin/env bash
# scripts/package-test.sh — the package tier: builds the Debian package,
# lints it, and proves it under a real systemd in a booted Debian 12
# container, against a real PostgreSQL cluster on the host's loopback.
#
#   scripts/package-test.sh [OUT_DIR]        (as root; default OUT_DIR: build-package)
#   scripts/package-test.sh --tree-only      (only step 3: make the cached tarball)
#
#  1. packaging/build-deb.sh OUT_DIR/deb: the release build, its man page and
#     changelog, `cpack -G DEB`. The "previous build" to upgrade from is
#     PGRE_PREVIOUS_DEB when set, else the same build packaged once more
#     without the Debian revision (cpack -D CPACK_DEBIAN_PACKAGE_RELEASE=0:
#     version X, lower than X-1): what an
#     upgrade between two builds does to the service and to a changed
#     conffile is the maintainer scripts' and dpkg's doing.
#  2. lintian: no error and no warning beyond the overrides the package
#     ships (packaging/debian/lintian-overrides, each with its reason).
#  3. A Debian 12 tree: debootstrap --variant=minbase bookworm plus
#     systemd, systemd-sysv and dbus, cached as
#     ${PGRE_CACHE_DIR:-/var/cache/pg_replica_exporter-ci}/debian12-systemd.tar.zst
#     (built once; a run unpacks a fresh copy and deletes it afterwards).
#     Nothing else: the package's own Depends must bring what it needs.
#  4. A primary with two streaming replicas on 127.0.0.1 (scripts/lib/cluster.sh),
#     and a role that needs a password (scram), for the credential check.
#  5. systemd-nspawn -D TREE -b --register=no --keep-unit --console=pipe,
#     bounded by `timeout` (PGRE_PACKAGE_BOOT_TIMEOUT, default 1200 s). The
#     container shares the host's network, so it reaches the cluster and
#     the agent listens on a free host port. Inside, the Type=simple unit
#     pgre-package-test.service runs scripts/package-checks.sh (apt-get
#     install ./…deb, start, reload, watchdog, crash, stop, upgrade, remove,
#     purge; see there), then docs/getting-started.md word for word: its
#     shell steps in order (scripts/getting-started-steps.py), its settings
#     block replaced by this cluster's ports and free ports for the agent
#     and Prometheus (the guide installs Debian's prometheus from the
#     archive), and powers the container off.
# Artifacts in OUT_DIR/artifacts: checks.log, and on failure the whole
# journal (journal.txt) and the service's (pg_replica_exporter.journal.txt,
# also printed). Exit status 0 when every check passed.
#
# Environment: PGRE_CACHE_DIR, PGRE_PREVIOUS_DEB, PGRE_PACKAGE_BOOT_TIMEOUT,
# PGRE_DEBIAN_MIRROR (default: the host's first Debian URI), JOBS (build
# parallelism, default 2), PGRE_PACKAGE_SKIP_BUILD=1 (reuse OUT_DIR/deb).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TREE_ONLY=0
if [[ ${1:-} == --tree-only ]]; then TREE_ONLY=1; shift; fi
OUT=${1:-$ROOT/build-package}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
CACHE=${PGRE_CACHE_DIR:-/var/cache/pg_replica_exporter-ci}
TARBALL=$CACHE/debian12-systemd.tar.zst
BOOT_TIMEOUT=${PGRE_PACKAGE_BOOT_TIMEOUT:-1200}
ART=$OUT/artifacts
SUITE=bookworm
TREE_PACKAGES=systemd,systemd-sysv,dbus

log() { printf 'package-test: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
phase() {
  local now=$SECONDS
  [[ -n ${phase_name:-} ]] && log "$phase_name: $((now - phase_start)) s"
  phase_name=$1 phase_start=$now
  log "--- $1"
}

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, systemd-nspawn)"
for tool in systemd-nspawn debootstrap lintian help2man zstd dpkg-deb timeout; do
  command -v "$tool" >/dev/null || die "$tool missing (scripts/install-deps.sh installs it)"
done
rm -rf "$ART"
mkdir -p "$ART" "$CACHE"
start_all=$SECONDS

# ------------------------------------------------------------ 1. packages
if [[ $TREE_ONLY -eq 0 ]]; then
phase "build the package"
if [[ ${PGRE_PACKAGE_SKIP_BUILD:-0} != 1 ]]; then
  rm -f "$OUT"/deb/pg-replica-exporter_*.deb
  nice -n 15 "$ROOT/packaging/build-deb.sh" "$OUT/deb" >"$ART/build.log" 2>&1 ||
    { tail -n 40 "$ART/build.log" >&2; die "packaging/build-deb.sh failed (log: $ART/build.log)"; }
fi
DEB=$(ls "$OUT"/deb/pg-replica-exporter_*-1_*.deb 2>/dev/null | head -n1)
[[ -f $DEB ]] || die "no package in $OUT/deb"
mkdir -p "$OUT/prev"
rm -f "$OUT"/prev/*.deb
if [[ -n ${PGRE_PREVIOUS_DEB:-} ]]; then
  cp "$PGRE_PREVIOUS_DEB" "$OUT/prev/" || die "cannot read PGRE_PREVIOUS_DEB=$PGRE_PREVIOUS_DEB"
else
  (cd "$OUT/deb" && cpack -G DEB -D CPACK_DEBIAN_PACKAGE_RELEASE=0 -B "$OUT/prev") \
    >"$ART/cpack-prev.log" 2>&1 || { cat "$ART/cpack-prev.log" >&2; die "cpack of the previous build failed"; }
  rm -rf "$OUT/prev/_CPack_Packages"
fi
PREV=$(ls "$OUT"/prev/*.deb | head -n1)
log "package: $DEB"
log "previous build: $PREV ($(dpkg-deb -f "$PREV" Version))"

# ------------------------------------------------------------ 2. lintian
phase "lintian"
lintian_rc=0
# --fail-on error,warning: an override (shipped in the package) silences a
# tag; anything else fails. Informational tags are printed, not failed on.
# (--show-overrides would count the overridden tags as failures: the
# overrides, with their reasons, are listed by a second run.)
lintian --display-info --fail-on error,warning "$DEB" >"$ART/lintian.txt" 2>&1 || lintian_rc=$?
grep -v 'running with root privileges' "$ART/lintian.txt" >&2
lintian --show-overrides "$DEB" 2>/dev/null | grep -E '^(O|N):' >"$ART/lintian-overrides.txt" || true
log "lintian overrides in force: $(grep -c '^O:' "$ART/lintian-overrides.txt") (with their reasons: $ART/lintian-overrides.txt)"
if [[ $lintian_rc -ne 0 ]]; then
  log "lintian: FAILED (exit $lintian_rc)"
else
  log "lintian: no errors, no warnings beyond the overrides"
fi
fi # TREE_ONLY

# ------------------------------------------------------------ 3. the tree
detect_mirror() {
  if [[ -n ${PGRE_DEBIAN_MIRROR:-} ]]; then echo "$PGRE_DEBIAN_MIRROR"; return; fi
  local uri="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri=$(awk '/^[Uu][Rr][Ii][Ss]:/ { for (i = 2; i <= NF; i++)
                 if ($i ~ /^https?:\/\// && $i !~ /security/) { print $i; exit } }' "$f")
    [[ -n $uri ]] && break
  done
  echo "${uri:-http://deb.debian.org/debian}"
}

# Apt inside the tree: no recommends, and the mirror's Release files may have
# outlived their Valid-Until (a snapshot).
APT_CONF='Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
'

build_tarball() {
  local work=$1 mirror
  mirror=$(detect_mirror)
  log "cold: debootstrap --variant=minbase --include=$TREE_PACKAGES $SUITE ($mirror); cached afterwards"
  # In a private mount namespace: debootstrap's /proc and /sys mounts vanish with it.
  unshare --mount --propagation private -- \
    debootstrap --variant=minbase --include="$TREE_PACKAGES" "$SUITE" "$work" "$mirror" \
    >"$ART/debootstrap.log" 2>&1 ||
    { tail -n 30 "$ART/debootstrap.log" >&2; return 1; }
  printf '%s' "$APT_CONF" >"$work/etc/apt/apt.conf.d/90pgre-package-test"
  # The host's sources (updates and security too), so the tree resolves the
  # package's dependencies as an up-to-date Debian 12 does.
  if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
    rm -f "$work/etc/apt/sources.list"
    cp /etc/apt/sources.list.d/*.sources "$work/etc/apt/sources.list.d/"
  fi
  # A fixed machine id: no first boot (systemd-firstboot would prompt on the
  # console); no getty on the console pipe.
  systemd-machine-id-setup --root="$work" >/dev/null 2>&1 || true
  local u
  for u in systemd-firstboot.service console-getty.service getty@.service \
    systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
    ln -sf /dev/null "$work/etc/systemd/system/$u"
  done
  rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/* "$work"/tmp/*
  chmod 0755 "$work"
  local tmp=$TARBALL.tmp.$$
  tar -C "$work" --numeric-owner --xattrs --xattrs-include='*' -cf - . |
    zstd -q -T0 -10 >"$tmp" || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$TARBALL"
  log "cached $(du -h "$TARBALL" | cut -f1) in $TARBALL"
}

phase "the Debian 12 tree"
TREE=$(mktemp -d /var/tmp/pgre-package-tree.XXXXXX)
chmod 0755 "$TREE" # the container's /: mktemp makes it 0700
WORK=$(mktemp -d /var/tmp/pgre-package-work.XXXXXX)
CLUSTER_UP=0
cleanup() {
  local rc=$?
  if [[ $CLUSTER_UP -eq 1 ]]; then pgc_destroy >/dev/null 2>&1 || true; fi
  # Nothing of the container may be left: it powered off, or timeout killed it.
  if [[ -d $TREE ]] && ! awk -v p="$TREE" 'index($5, p) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    rm -rf --one-file-system "$TREE"
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

(
  flock -w 1200 9 || die "timed out waiting for $CACHE/.debian12.lock"
  if [[ ! -f $TARBALL ]]; then
    build_tarball "$TREE" || die "building the tree failed (log: $ART/debootstrap.log)"
    rm -rf --one-file-system "$TREE" && mkdir -p "$TREE"
  fi
) 9>"$CACHE/.debian12.lock" || exit 1
log "warm: unpacking $TARBALL"
zstd -q -d -c "$TARBALL" | tar -C "$TREE" --numeric-owner --xattrs --xattrs-include='*' -xpf - ||
  die "cannot unpack $TARBALL (remove it to rebuild)"
[[ -x $TREE/lib/systemd/systemd && -e $TREE/sbin/init ]] || die "$TARBALL holds no systemd tree (remove it to rebuild)"
chmod 0755 "$TREE" # the container's /: mktemp made it (and maybe the tarball's ./) 0700
if [[ $TREE_ONLY -eq 1 ]]; then
  log "tree ready: $TARBALL ($((SECONDS - start_all)) s)"
  exit 0
fi

# ------------------------------------------------------------ 4. the cluster
phase "the PostgreSQL cluster"
# shellcheck source=lib/cluster.sh
source "$ROOT/scripts/lib/cluster.sh"
CLUSTER_UP=1
pgc_create 2 >"$ART/cluster.log" 2>&1 || { cat "$ART/cluster.log" >&2; die "cannot create the cluster"; }
MON_PASSWORD="pgre-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
pgc_psql "$PGC_PRIMARY_PORT" \
  "CREATE ROLE pgre_monitor LOGIN PASSWORD '$MON_PASSWORD' IN ROLE pg_monitor" >/dev/null ||
  die "cannot create the monitoring role"
# pgre_monitor, and replica_exporter (the role docs/getting-started.md
# creates), must authenticate with their passwords (scram) on every server.
for d in primary replica1 replica2; do
  hba=$PGC_DIR/$d/pg_hba.conf
  { echo "host all pgre_monitor 127.0.0.1/32 scram-sha-256"
    echo "host all replica_exporter 127.0.0.1/32 scram-sha-256"
    cat "$hba"; } | pgc_as_pg tee "$hba.new" >/dev/null
  pgc_as_pg mv "$hba.new" "$hba"
  pgc_as_pg "$PGC_BINDIR/pg_ctl" -D "$PGC_DIR/$d" reload >/dev/null
done

# ------------------------------------------------------------ 5. the boot
phase "boot and checks"
mkdir -p "$WORK/debs"
cp "$DEB" "$WORK/debs/current.deb"
cp "$PREV" "$WORK/debs/previous.deb"
cp "$ROOT/scripts/package-checks.sh" "$WORK/checks.sh"
chmod 755 "$WORK/checks.sh"
AGENT_PORT=$(pgc_free_port)
PROM_PORT=$(pgc_free_port)
while [[ $PROM_PORT == "$AGENT_PORT" ]]; do PROM_PORT=$(pgc_free_port); done
# docs/getting-started.md: its steps as one script, its settings this
# cluster's, the package under its own name in the directory the steps run
# in, and the repository's copies of the shipped files the guide names.
mkdir -p "$WORK/guide/shipped"
cp "$DEB" "$WORK/guide/"
cat >"$WORK/guide/settings.sh" <<EOF
PRIMARY_HOST=127.0.0.1 PRIMARY_PORT=$PGC_PRIMARY_PORT
REPLICA1_HOST=127.0.0.1 REPLICA1_PORT=${PGC_REPLICA_PORTS[0]}
REPLICA2_HOST=127.0.0.1 REPLICA2_PORT=${PGC_REPLICA_PORTS[1]}
SUPERUSER=postgres
AGENT_ADDR=127.0.0.1:$AGENT_PORT
PROM_ADDR=127.0.0.1:$PROM_PORT
EOF
python3 "$ROOT/scripts/getting-started-steps.py" script /pgre-test/guide/settings.sh \
  "$WORK/guide/run.sh" || die "docs/getting-started.md: its steps cannot be extracted"
python3 "$ROOT/scripts/getting-started-steps.py" shipped >"$WORK/guide/shipped.list" ||
  die "docs/getting-started.md: its shipped files cannot be listed"
: >"$WORK/guide/shipped.txt"
while read -r installed repo; do
  copy=shipped/$(basename "$repo")
  cp "$ROOT/$repo" "$WORK/guide/$copy" || die "no $repo, named by docs/getting-started.md"
  echo "$installed /pgre-test/guide/$copy" >>"$WORK/guide/shipped.txt"
done <"$WORK/guide/shipped.list"
cat >"$WORK/env" <<EOF
PRIMARY_PORT=$PGC_PRIMARY_PORT
REPLICA1_PORT=${PGC_REPLICA_PORTS[0]}
REPLICA2_PORT=${PGC_REPLICA_PORTS[1]}
AGENT_PORT=$AGENT_PORT
MON_PASSWORD=$MON_PASSWORD
VERSION=$(dpkg-deb -f "$DEB" Version | sed 's/-[^-]*$//')
DEB_VERSION=$(dpkg-deb -f "$DEB" Version)
PREV_VERSION=$(dpkg-deb -f "$PREV" Version)
EOF
cat >"$TREE/etc/systemd/system/pgre-package-test.service" <<'EOF'
[Unit]
Description=pg_replica_exporter package checks (scripts/package-checks.sh)
After=multi-user.target
# The container powers off when the checks end, either way.
SuccessAction=poweroff-force
FailureAction=poweroff-force
[Service]
Type=simple
ExecStart=/pgre-test/checks.sh
StandardOutput=journal+console
StandardError=journal+console
TimeoutStartSec=infinity
[Install]
WantedBy=multi-user.target
EOF
mkdir -p "$TREE/etc/systemd/system/multi-user.target.wants"
ln -sf ../pgre-package-test.service "$TREE/etc/systemd/system/multi-user.target.wants/pgre-package-test.service"
# Downloaded packages are kept between runs.
mkdir -p "$CACHE/debian12-apt-archives/partial"

boot_start=$SECONDS
timeout --kill-after=15 "$BOOT_TIMEOUT" \
  systemd-nspawn -D "$TREE" -b --register=no --keep-unit --console=pipe \
  --bind="$WORK:/pgre-test" --bind="$CACHE/debian12-apt-archives:/var/cache/apt/archives" \
  >"$ART/console.log" 2>&1 </dev/null
boot_rc=$?
log "container ran $((SECONDS - boot_start)) s (systemd-nspawn exit $boot_rc)"
[[ $boot_rc -eq 124 || $boot_rc -eq 137 ]] && log "the container timed out after ${BOOT_TIMEOUT} s"
cp "$WORK/checks.log" "$ART/checks.log" 2>/dev/null
result=$(cat "$WORK/result" 2>/dev/null || echo "no result")
phase "done"

if [[ $result == PASS* && $lintian_rc -eq 0 ]]; then
  grep -E '^(ok|FAILED|figure) ' "$ART/checks.log" >&2
  log "$result; total $((SECONDS - start_all)) s"
  exit 0
fi
cp "$WORK/journal.txt" "$ART/journal.txt" 2>/dev/null
cp "$WORK/service-journal.txt" "$ART/pg_replica_exporter.journal.txt" 2>/dev/null
log "checks: $result"
echo "--- checks.log" >&2
cat "$ART/checks.log" >&2 2>/dev/null || tail -n 60 "$ART/console.log" >&2
if [[ -f $ART/pg_replica_exporter.journal.txt ]]; then
  echo "--- journalctl -u pg_replica_exporter (last 80 lines; all in $ART)" >&2
  tail -n 80 "$ART/pg_replica_exporter.journal.txt" >&2
else
  echo "--- console (last 60 lines)" >&2
  tail -n 60 "$ART/console.log" >&2
fi
exit 1
