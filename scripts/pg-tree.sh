#!/usr/bin/env bash
# scripts/pg-tree.sh VERSION — a debootstrapped Debian tree with PostgreSQL
# VERSION (13: bullseye, 17: trixie, 18: sid) and a runner script for it.
#
#   runner=$(scripts/pg-tree.sh 17)     # as root; prints only the runner path
#   "$runner" initdb -D /tmp/x -A trust  # runs /usr/lib/postgresql/17/bin/initdb
#
# The tree is ${PGRE_PG_TREES:-/var/tmp/pgre-pg-trees}/pgVERSION, the runner
# is the file pgVERSION.run next to it (see the comment at the top of it for
# what it does). Idempotent:
#   hot   tree present: checks it, (re)writes the runner; well under a second.
#   warm  tree absent, cached tarball present: unpacks it.
#   cold  neither: debootstrap --variant=minbase SUITE, apt-get install
#         postgresql-VERSION inside (no service starts, no cluster), then
#         writes the tarball to ${PGRE_CACHE_DIR:-/var/cache/pg_replica_exporter-ci}
#         as pgVERSION-SUITE.tar.zst (.tar.gz when zstd cannot be had).
# Every mount made while building lives in a private mount namespace
# (unshare -m) and vanishes with it; no server is ever left running.
# One lock per version (flock), so different versions build concurrently and
# concurrent calls for the same version wait for each other.
# Progress goes to stderr; the build's full output to TREES/pgVERSION.build.log.
#
# Environment: PGRE_PG_TREES, PGRE_CACHE_DIR, PGRE_DEBIAN_MIRROR (default: the
# first non-security Debian URI in /etc/apt/sources.list.d/*.sources or
# /etc/apt/sources.list, else http://deb.debian.org/debian),
# PGRE_PG_TREE_COMPRESS=gz|zst (the cold build's tarball; default zst, gz
# when zstd can be neither found nor apt-get installed). A warm run takes
# pgVERSION-SUITE.tar.zst, else .tar.gz, whichever is in the cache.
set -euo pipefail

PROG=pg-tree
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { echo "usage: $0 VERSION   (13, 17 or 18)" >&2; exit 2; }

# ---------------------------------------------------------------- settings
[[ $# -ge 1 ]] || usage
# Internal entry point: the build steps that need mounts, run by the outer
# script inside `unshare -m` (see cold_build).
if [[ $1 == __build_in_ns ]]; then
  INTERNAL=1
  shift
else
  INTERNAL=0
fi
[[ $# -eq 1 ]] || usage
VERSION=$1
case $VERSION in
  13) SUITE=bullseye ;;
  17) SUITE=trixie ;;
  18) SUITE=sid ;;
  *) usage ;;
esac
PROG="pg-tree[$VERSION]"

TREES=${PGRE_PG_TREES:-/var/tmp/pgre-pg-trees}
CACHE=${PGRE_CACHE_DIR:-/var/cache/pg_replica_exporter-ci}
TREE=$TREES/pg$VERSION
RUNNER=$TREES/pg$VERSION.run
BUILD_LOG=$TREES/pg$VERSION.build.log
MARKER=.pgre-tree # in the tree's root: written last, says the tree is whole
PGBIN=/usr/lib/postgresql/$VERSION/bin

# Apt options inside the trees (the mirror's sid Release may have expired).
APT_CONF='Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Dpkg::Use-Pty "false";
'

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ $TREES == /* && $TREES != *[\'\"\\\$\`]* ]] ||
  die "PGRE_PG_TREES must be an absolute path without quotes, \\, \$ or \` (it goes into the runner)"

# ---------------------------------------------------------------- helpers
detect_mirror() {
  if [[ -n ${PGRE_DEBIAN_MIRROR:-} ]]; then
    echo "$PGRE_DEBIAN_MIRROR"
    return
  fi
  local uri="" f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    uri=$(awk '/^[Uu][Rr][Ii][Ss]:/ {
                 for (i = 2; i <= NF; i++)
                   if ($i ~ /^https?:\/\// && $i !~ /security/) { print $i; exit }
               }' "$f")
    [[ -n $uri ]] && break
  done
  if [[ -z $uri ]]; then
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -r $f ]] || continue
      uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) {
                   if ($i !~ /security/) print $i; exit } }' "$f" | head -n1)
      [[ -n $uri ]] && break
    done
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Host packages (debootstrap, zstd): apt-get install when missing. One host
# lock for all versions: concurrent builds must not race on dpkg/apt lists.
have_pkg() {
  [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}
ensure_host_pkgs() {
  local missing=() p
  for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  (
    flock -w 900 8 || die "timed out waiting for $TREES/.host-apt.lock"
    missing=()
    for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
    [[ ${#missing[@]} -eq 0 ]] && exit 0
    log "installing host packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
    if ! "${apt[@]}" install "${missing[@]}" >>"$BUILD_LOG" 2>&1; then
      apt-get -q -o DPkg::Lock::Timeout=600 update >>"$BUILD_LOG" 2>&1 || true
      "${apt[@]}" install "${missing[@]}" >>"$BUILD_LOG" 2>&1
    fi
  ) 8>"$TREES/.host-apt.lock"
}

# The compressor: zstd when it is (or can be made) available, else gzip;
# PGRE_PG_TREE_COMPRESS=gz|zst forces one.
tar_ext() {
  case ${PGRE_PG_TREE_COMPRESS:-} in
    gz | zst) echo "$PGRE_PG_TREE_COMPRESS"; return ;;
    '') ;;
    *) die "PGRE_PG_TREE_COMPRESS must be gz or zst" ;;
  esac
  if command -v zstd >/dev/null 2>&1; then echo zst; else echo gz; fi
}

# Paths of mounts at or under $1 (in this mount namespace).
mounts_under() {
  awk -v p="$1" '{ m = $5; gsub(/\\040/, " ", m)
                   if (m == p || index(m, p "/") == 1) print m }' /proc/self/mountinfo
}

# Pids of processes whose root directory is $1 (or under it).
procs_rooted_in() {
  local d r pid
  for d in /proc/[0-9]*; do
    r=$(readlink "$d/root" 2>/dev/null) || continue
    if [[ $r == "$1" || $r == "$1"/* ]]; then
      pid=${d#/proc/}
      [[ $pid == "$$" || $pid == "$BASHPID" ]] || echo "$pid"
    fi
  done
}

# Removes a tree directory: refuses when anything is mounted under it.
remove_tree_dir() {
  local dir=$1
  [[ -e $dir ]] || return 0
  [[ $dir == "$TREES"/* ]] || die "refusing to remove $dir (not under $TREES)"
  if [[ -n $(mounts_under "$dir") ]]; then
    die "refusing to remove $dir: mounts under it: $(mounts_under "$dir" | tr '\n' ' ')"
  fi
  rm -rf --one-file-system -- "$dir"
}

# Makes the tree's postgres user and group have the host's postgres uid/gid
# (the runner runs tools with those ids, and initdb needs a passwd entry for
# its uid). A tree entry that already has the wanted id swaps with postgres;
# the ownership of the tree's files follows.
host_ids() {
  HOST_UID=$(id -u postgres 2>/dev/null) ||
    die "no OS user 'postgres' on the host (install postgresql-common or create it)"
  HOST_GID=$(id -g postgres)
}
tree_uid() { awk -F: '$1 == "postgres" { print $3 }' "$1/etc/passwd"; }
tree_gid() { awk -F: '$1 == "postgres" { print $3 }' "$1/etc/group"; }
ids_match() {
  [[ $(tree_uid "$1") == "$HOST_UID" && $(tree_gid "$1") == "$HOST_GID" ]]
}
fix_ids() {
  local dir=$1 old new tmpa tmpb
  old=$(tree_uid "$dir")
  [[ -n $old ]] || die "$dir has no postgres user"
  new=$HOST_UID
  if [[ $old != "$new" ]]; then
    log "tree postgres uid $old -> $new (host's)"
    tmpa=$(mktemp) tmpb=$(mktemp)
    find "$dir" -xdev -uid "$old" -print0 >"$tmpa"
    find "$dir" -xdev -uid "$new" -print0 >"$tmpb"
    awk -F: -v OFS=: -v o="$old" -v n="$new" \
      '$1 == "postgres" { $3 = n } $1 != "postgres" && $3 == n { $3 = o } { print }' \
      "$dir/etc/passwd" >"$dir/etc/passwd.pgre" && cat "$dir/etc/passwd.pgre" >"$dir/etc/passwd"
    rm -f "$dir/etc/passwd.pgre"
    xargs -0 -r chown -h "$new" <"$tmpa"
    xargs -0 -r chown -h "$old" <"$tmpb"
    rm -f "$tmpa" "$tmpb"
  fi
  old=$(tree_gid "$dir")
  [[ -n $old ]] || die "$dir has no postgres group"
  new=$HOST_GID
  if [[ $old != "$new" ]]; then
    log "tree postgres gid $old -> $new (host's)"
    tmpa=$(mktemp) tmpb=$(mktemp)
    find "$dir" -xdev -gid "$old" -print0 >"$tmpa"
    find "$dir" -xdev -gid "$new" -print0 >"$tmpb"
    awk -F: -v OFS=: -v o="$old" -v n="$new" \
      '$1 == "postgres" { $3 = n } $1 != "postgres" && $3 == n { $3 = o } { print }' \
      "$dir/etc/group" >"$dir/etc/group.pgre" && cat "$dir/etc/group.pgre" >"$dir/etc/group"
    rm -f "$dir/etc/group.pgre"
    # Primary groups in passwd follow the swap.
    awk -F: -v OFS=: -v o="$old" -v n="$new" \
      '$4 == o { $4 = n; print; next } $4 == n { $4 = o } { print }' \
      "$dir/etc/passwd" >"$dir/etc/passwd.pgre" && cat "$dir/etc/passwd.pgre" >"$dir/etc/passwd"
    rm -f "$dir/etc/passwd.pgre"
    xargs -0 -r chgrp -h "$new" <"$tmpa"
    xargs -0 -r chgrp -h "$old" <"$tmpb"
    rm -f "$tmpa" "$tmpb"
  fi
}

tree_ok() {
  [[ -f $1/$MARKER && -x $1$PGBIN/postgres && -x $1$PGBIN/pg_ctl && -x $1/usr/bin/setpriv ]]
}

# ---------------------------------------------------------------- the runner
write_runner() {
  local tmp home
  home=$(awk -F: '$1 == "postgres" { print $6 }' "$TREE/etc/passwd")
  tmp=$(mktemp "$RUNNER.XXXXXX")
  cat >"$tmp" <<RUNNER_EOF
#!/bin/sh
# Generated by scripts/pg-tree.sh $VERSION (rewritten on each of its runs).
# Usage (as root): $RUNNER TOOL [ARGS...]
# Runs $PGBIN/TOOL from the Debian $SUITE tree $TREE
# as uid $HOST_UID / gid $HOST_GID (the host's postgres), with the
# environment passed through (HOME, USER and LOGNAME set as runuser does).
# In a private mount namespace (unshare -m) the host's /tmp, /dev, /proc and
# /sys are bind-mounted into the tree, then it chroots there; the cwd is kept
# when it is under /tmp (else /). The mounts exist only in that namespace:
# they vanish when its last process exits (a postmaster started by pg_ctl
# keeps them, and its /tmp view, for as long as it runs). Same pid and network
# namespaces as the host: pg_ctl stop/promote from another call work, and
# servers listen on the host's loopback. Exit status and output are TOOL's.
TREE='$TREE'
PGBIN='$PGBIN'
PGUID=$HOST_UID
PGGID=$HOST_GID
PGHOME='${home:-/var/lib/postgresql}'
SELF='$RUNNER'

if [ "\${1-}" != __pgre_in_ns__ ]; then
  if [ \$# -lt 1 ]; then echo "usage: \$0 TOOL [ARGS...]" >&2; exit 2; fi
  case \$1 in
    ''|*/*|.|..) echo "\$0: TOOL must be a plain name, got '\$1'" >&2; exit 2 ;;
  esac
  if [ ! -x "\$TREE\$PGBIN/\$1" ]; then
    echo "\$0: no \$PGBIN/\$1 in \$TREE" >&2; exit 127
  fi
  if [ "\$(id -u)" != 0 ]; then echo "\$0: must run as root" >&2; exit 2; fi
  wd=\$(pwd -P 2>/dev/null) || wd=/
  case \$wd in /tmp|/tmp/*) ;; *) wd=/ ;; esac
  exec unshare --mount --propagation private -- /bin/sh "\$SELF" __pgre_in_ns__ "\$wd" "\$@"
fi
# In the new mount namespace.
shift
wd=\$1
tool=\$2
shift 2
for m in tmp dev proc sys; do
  mount --rbind "/\$m" "\$TREE/\$m" || { echo "\$0: cannot bind /\$m into \$TREE" >&2; exit 125; }
done
HOME=\$PGHOME USER=postgres LOGNAME=postgres
export HOME USER LOGNAME
exec unshare --root="\$TREE" --wd="\$wd" -- \\
  /usr/bin/setpriv --reuid="\$PGUID" --regid="\$PGGID" --init-groups -- \\
  "\$PGBIN/\$tool" "\$@"
RUNNER_EOF
  chmod 755 "$tmp"
  if [[ -f $RUNNER ]] && cmp -s "$tmp" "$RUNNER"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$RUNNER"
  fi
}

# ---------------------------------------------------------------- cold build
# Inside `unshare -m`: debootstrap, apt-get install, clean. $WORK is the
# directory to build into.
build_in_ns() {
  local work=$PGRE_WORK mirror=$PGRE_MIRROR
  mount --make-rprivate / 2>/dev/null || true
  log "debootstrap --variant=minbase $SUITE $work $mirror"
  debootstrap --variant=minbase "$SUITE" "$work" "$mirror" >>"$BUILD_LOG" 2>&1 ||
    { tail -n 30 "$BUILD_LOG" >&2; die "debootstrap failed (log: $BUILD_LOG)"; }
  # No service may start from a maintainer script.
  printf '#!/bin/sh\n# pg-tree.sh: no service starts in this tree\nexit 101\n' \
    >"$work/usr/sbin/policy-rc.d"
  chmod 755 "$work/usr/sbin/policy-rc.d"
  printf '%s' "$APT_CONF" >"$work/etc/apt/apt.conf.d/90pgre-tree"
  for m in dev proc sys; do
    mountpoint -q "$work/$m" || mount --rbind "/$m" "$work/$m"
  done
  local in=(chroot "$work" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin
    HOME=/root LC_ALL=C DEBIAN_FRONTEND=noninteractive)
  log "apt-get install postgresql-$VERSION (in the tree)"
  {
    "${in[@]}" apt-get -q update &&
      "${in[@]}" apt-get -q -y install postgresql-common &&
      sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' \
        "$work/etc/postgresql-common/createcluster.conf" &&
      "${in[@]}" apt-get -q -y install "postgresql-$VERSION" util-linux
  } >>"$BUILD_LOG" 2>&1 ||
    { tail -n 30 "$BUILD_LOG" >&2; die "apt-get in the tree failed (log: $BUILD_LOG)"; }
  # No cluster, nothing running.
  if [[ -n $("${in[@]}" pg_lsclusters -h 2>/dev/null) ]]; then
    log "dropping the package's clusters"
    "${in[@]}" pg_lsclusters -h | while read -r ver name _; do
      "${in[@]}" pg_dropcluster --stop "$ver" "$name" >>"$BUILD_LOG" 2>&1
    done
  fi
  "${in[@]}" apt-get clean >>"$BUILD_LOG" 2>&1
  rm -rf "$work"/var/lib/apt/lists/* "$work"/var/cache/apt/*.bin \
    "$work"/var/cache/debconf/*-old "$work"/var/lib/dpkg/*-old
  find "$work/var/log" -type f -exec truncate -s 0 {} +
  rm -rf "$work"/tmp/* "$work"/tmp/.[!.]* 2>/dev/null || true
  kill_tree_procs "$work"
}

# Pids of all the descendants of process $1.
descendants() {
  awk -v root="$1" '
    FNR == 1 { s = $0; pid = $1; sub(/^.*\) /, "", s); split(s, f, " "); parent[pid] = f[2] }
    END {
      n = 1; q[1] = root
      for (i = 1; i <= n; i++)
        for (p in parent) if (parent[p] == q[i] && !(p in seen)) { seen[p] = 1; q[++n] = p; print p }
    }' /proc/[0-9]*/stat 2>/dev/null
}

# On the way out of an unfinished run: stop what it started, remove its work dir.
on_exit() {
  local pids
  pids=$(descendants "$$" | grep -vx "$BASHPID" || true)
  # shellcheck disable=SC2086
  [[ -z $pids ]] || kill -TERM $pids 2>/dev/null || true
  [[ -n ${WORK:-} && -e ${WORK:-} ]] || return 0
  sleep 1
  kill_tree_procs "$WORK" 2>/dev/null || true
  if [[ -z $(mounts_under "$WORK") ]]; then
    rm -rf --one-file-system -- "$WORK"
  else
    log "not removing $WORK: still mounted under it"
  fi
}

kill_tree_procs() {
  local pids
  pids=$(procs_rooted_in "$1")
  [[ -z $pids ]] && return 0
  log "stopping processes left in the tree: ${pids//$'\n'/ }"
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  sleep 2
  pids=$(procs_rooted_in "$1")
  # shellcheck disable=SC2086
  [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
}

cold_build() {
  local work=$1 ext=$2 tarball=$3 mirror start
  start=$SECONDS
  ensure_host_pkgs debootstrap debian-archive-keyring
  mirror=$(detect_mirror)
  log "cold build of $SUITE + postgresql-$VERSION into $work (log: $BUILD_LOG)"
  # In the background, so that a signal to this script is handled at once
  # (on_exit stops the build).
  PGRE_WORK=$work PGRE_MIRROR=$mirror PGRE_PG_TREES=$TREES PGRE_CACHE_DIR=$CACHE \
    unshare --mount --propagation private -- "$BASH" "$SELF_PATH" __build_in_ns "$VERSION" &
  wait "$!" || die "build failed (log: $BUILD_LOG)"
  # The namespace is gone; nothing of it may be left.
  [[ -z $(mounts_under "$work") ]] || die "mounts left under $work"
  kill_tree_procs "$work"
  host_ids
  fix_ids "$work"
  local pgver
  # shellcheck disable=SC2016 # dpkg-query's own ${Version}
  pgver=$(chroot "$work" dpkg-query -W -f='${Version}' "postgresql-$VERSION" 2>/dev/null || echo "?")
  printf 'version=%s\nsuite=%s\npackage=postgresql-%s %s\nmirror=%s\nbuilt=%s\n' \
    "$VERSION" "$SUITE" "$VERSION" "$pgver" "$mirror" "$(date -u +%FT%TZ)" >"$work/$MARKER"
  log "built in $((SECONDS - start)) s (postgresql-$VERSION $pgver)"
  write_tarball "$work" "$tarball"
}

# write_tarball DIR TARBALL: DIR's tree into the cache (atomically).
write_tarball() {
  local work=$1 tarball=$2 tmp comp
  log "writing $tarball"
  mkdir -p "$CACHE"
  tmp="$tarball.tmp.$$"
  if [[ $tarball == *.zst ]]; then comp=(zstd -q -T0 -10); else comp=(gzip -6); fi
  tar -C "$work" --numeric-owner --xattrs --xattrs-include='*' -cf - \
    --exclude=./tmp/* --exclude=./proc/* --exclude=./sys/* . |
    "${comp[@]}" >"$tmp" || { rm -f "$tmp"; die "cannot write $tarball"; }
  mv -f "$tmp" "$tarball"
  log "cached $(du -h "$tarball" | cut -f1) in $tarball"
}

# The cached tarball for this version, if any: .tar.zst first, then .tar.gz.
find_tarball() {
  local ext t
  for ext in zst gz; do
    t=$CACHE/pg$VERSION-$SUITE.tar.$ext
    [[ -f $t ]] || continue
    if [[ $ext == zst ]] && ! command -v zstd >/dev/null; then
      ensure_host_pkgs zstd || { log "zstd unavailable: cannot use $t"; continue; }
    fi
    echo "$t"
    return 0
  done
}

unpack() {
  local work=$1 tarball=$2 ext=${2##*.} decomp
  log "unpacking $tarball into $work"
  if [[ $ext == zst ]]; then decomp=(zstd -q -d -c); else decomp=(gzip -d -c); fi
  mkdir -p "$work"
  "${decomp[@]}" "$tarball" |
    tar -C "$work" --numeric-owner --xattrs --xattrs-include='*' -xpf -
  host_ids
  fix_ids "$work"
}

# ---------------------------------------------------------------- main
SELF_PATH=$(readlink -f "${BASH_SOURCE[0]}")
mkdir -p "$TREES"

if [[ $INTERNAL -eq 1 ]]; then
  build_in_ns
  exit 0
fi

exec 9>"$TREES/.pg$VERSION.lock"
if ! flock -n 9; then
  log "waiting for another pg-tree.sh $VERSION (lock $TREES/.pg$VERSION.lock)"
  flock 9
fi

host_ids
if tree_ok "$TREE"; then
  if ! ids_match "$TREE"; then fix_ids "$TREE"; fi
  if [[ ! -f $CACHE/pg$VERSION-$SUITE.tar.zst && ! -f $CACHE/pg$VERSION-$SUITE.tar.gz ]]; then
    # The cache was emptied: fill it again from the tree.
    if [[ ${PGRE_PG_TREE_COMPRESS:-} != gz ]]; then ensure_host_pkgs zstd 2>/dev/null || true; fi
    write_tarball "$TREE" "$CACHE/pg$VERSION-$SUITE.tar.$(tar_ext)"
  fi
  write_runner
  log "tree $TREE ready (hot)"
  echo "$RUNNER"
  exit 0
fi

# The tree is absent or incomplete: (re)make it beside, then move it in.
if [[ -e $TREE ]]; then
  log "removing incomplete tree $TREE"
  remove_tree_dir "$TREE"
fi
for stale in "$TREES"/.pg"$VERSION".work.*; do
  [[ -e $stale ]] && remove_tree_dir "$stale"
done
WORK=$TREES/.pg$VERSION.work.$$
trap on_exit EXIT
trap 'log "interrupted"; exit 130' INT
trap 'log "terminated"; exit 143' TERM HUP

tarball=$(find_tarball)

if [[ -n $tarball ]]; then
  unpack "$WORK" "$tarball"
  tree_ok "$WORK" || die "$tarball does not hold a whole tree (remove it to rebuild)"
  how=warm
else
  : >"$BUILD_LOG"
  if [[ ${PGRE_PG_TREE_COMPRESS:-} != gz ]]; then
    ensure_host_pkgs zstd 2>/dev/null || log "zstd unavailable: caching as .tar.gz"
  fi
  ext=$(tar_ext)
  cold_build "$WORK" "$ext" "$CACHE/pg$VERSION-$SUITE.tar.$ext"
  tree_ok "$WORK" || die "the built tree is incomplete"
  how=cold
fi
mv -T "$WORK" "$TREE"
trap - EXIT
write_runner
log "tree $TREE ready ($how)"
echo "$RUNNER"
