#!/usr/bin/env bash
# Installs everything pg_replica_exporter needs to build, test and demo on
# Debian 12: toolchain, libraries, PostgreSQL 15, Prometheus tools,
# chromium and chromedriver.
# Idempotent and quiet: does nothing (no apt) when every package is present.
# Must run as root (or through sudo when available).
set -euo pipefail

PACKAGES=(
  # build
  cmake ninja-build g++ clang clang-format pkg-config git
  # libraries
  libpq-dev prometheus-cpp-dev libcivetweb-dev libyaml-cpp-dev libspdlog-dev
  catch2 nlohmann-json3-dev libcli11-dev
  libevent-dev libssl-dev zlib1g-dev libcrypt-dev libclang-rt-dev libsystemd-dev
  # TLS tests: curl and openssl as clients
  openssl
  # tests and demo: PostgreSQL 15 servers, promtool/amtool, tools
  postgresql-15 postgresql-client-15 prometheus prometheus-alertmanager
  # the pgbouncer tests: Debian's pgbouncer in front of the test clusters
  pgbouncer
  # the load-balancer tests: Debian's HAProxy 2.6 running config/haproxy.cfg
  haproxy
  # the ha tier: Patroni 3.0 with etcd 3.4, pg_auto_failover 2.0
  patroni etcd-server etcd-client postgresql-15-auto-failover pg-auto-failover-cli
  curl python3 procps util-linux ca-certificates
  # the browser tier: the status page in headless chromium over WebDriver
  chromium chromium-driver
  # the PostgreSQL versions tier: trees of Debian 11 / 13 / unstable
  debootstrap zstd
  # the dashboards' schema check: @grafana/schema from the npm registry
  nodejs
  # the package: .deb tools, man page, lintian; the package tier boots a
  # Debian 12 tree with systemd-nspawn (scripts/package-test.sh)
  dpkg-dev help2man lintian systemd systemd-container
)

# One dpkg-query for all: "name status" lines for the known ones.
declare -A installed=()
while read -r name status; do
  [[ "$status" == "installed" ]] && installed[${name%%:*}]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
  [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done
# Debian's nodejs comes without npm (the package npm); other builds of
# nodejs (NodeSource) bundle it.
command -v npm >/dev/null || missing+=(npm)
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root" >&2; exit 1; }
  SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing postgresql/prometheus/pgbouncer must not start system services here (the
# tests start their own servers): a temporary policy-rc.d forbids it.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [[ $created_policy -eq 1 ]]; then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT

"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
