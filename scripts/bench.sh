#!/usr/bin/env bash
# Benchmark: prints figures, asserts nothing. Starts a throwaway primary with
# three streaming replicas, runs the agent (Release build) against it and
# measures:
#   - /metrics scrape throughput and latency under load (wrk), and the size
#     of one scrape;
#   - the JSON status endpoint under the same load;
#   - the agent's resident memory (idle, after the load) and CPU use while
#     idle-polling (1 s poll interval, 4 servers);
#   - route-check --reads=300 wall time (hyperfine);
#   - for comparison, prometheus-postgres-exporter's scrape of the primary
#     alone, when that package is installed.
# Usage (root, Debian 12): scripts/bench.sh [SECONDS_OF_LOAD]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
load_seconds=${1:-10}

DEBIAN_FRONTEND=noninteractive
export DEBIAN_FRONTEND
scripts/install-deps.sh >/dev/null
for pkg in wrk hyperfine; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    apt-get install -y -q "$pkg" >/dev/null
done

cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPGRE_BUILD_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target pg_replica_exporter >/dev/null
bin=$root/build-release/pg_replica_exporter

# shellcheck source=lib/cluster.sh
source scripts/lib/cluster.sh
agent_pid=""
peer_pid=""
cleanup() {
  set +e  # a failing kill or wait must not skip the rest
  [[ -n $agent_pid ]] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
  [[ -n $peer_pid ]] && kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null
  pgc_destroy
  rm -f "${config:-}"
}
trap cleanup EXIT INT TERM

pgc_create 3
config=$(mktemp /tmp/pgre-bench-XXXXXX.yml)
{
  echo "cluster: bench"
  echo "primary:"
  echo "  dsn: \"$(pgc_dsn "$PGC_PRIMARY_PORT")\""
  echo "replicas:"
  for i in 1 2 3; do
    echo "  - name: replica$i"
    echo "    dsn: \"$(pgc_dsn "${PGC_REPLICA_PORTS[$((i - 1))]}")\""
  done
  echo "routing:"
  echo "  health_check_interval: 2s"
  echo "  synthetic_check_interval: 2s"
} >"$config"
port=$(pgc_free_port)
"$bin" --config.file="$config" --web.listen-address="127.0.0.1:$port" \
  --log.level=warn &
agent_pid=$!
url=http://127.0.0.1:$port
for _ in $(seq 100); do
  curl -sf "$url/metrics" | grep -q 'pg_replica_healthy{' && break
  sleep 0.1
done

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

echo "== pg_replica_exporter $("$bin" --version | head -1)"
echo "scrape size: $(curl -s "$url/metrics" | wc -c) bytes, $(curl -s "$url/metrics" | grep -vc '^#') series"
echo "RSS idle: $(rss_kib "$agent_pid") KiB"
t0=$(cpu_ticks "$agent_pid")
sleep 10
t1=$(cpu_ticks "$agent_pid")
hz=$(getconf CLK_TCK)
echo "CPU while polling 4 servers every 1 s: $(awk -v d=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.2f", 100 * d / hz / 10}') % of one core"

echo "== wrk /metrics, 2 threads, 16 connections, ${load_seconds}s"
wrk -t2 -c16 -d"${load_seconds}s" --latency "$url/metrics" | grep -E 'Requests/sec|Latency|50%|99%'
echo "== wrk /v1/system/database/replicas/status"
wrk -t2 -c16 -d"${load_seconds}s" --latency "$url/v1/system/database/replicas/status" | grep -E 'Requests/sec|Latency|50%|99%'
echo "RSS after load: $(rss_kib "$agent_pid") KiB"

echo "== route-check --reads=300"
hyperfine --warmup 1 --runs 5 -N "$bin route-check --config.file=$config --reads=300" 2>&1 |
  grep -E 'Time|Range' || true

if [[ -x /usr/bin/prometheus-postgres-exporter ]]; then
  peer_port=$(pgc_free_port)
  DATA_SOURCE_NAME="$(pgc_dsn "$PGC_PRIMARY_PORT") sslmode=disable" \
    /usr/bin/prometheus-postgres-exporter --web.listen-address="127.0.0.1:$peer_port" \
    >/dev/null 2>&1 &
  peer_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$peer_port/metrics" >/dev/null && break; sleep 0.1; done
  echo "== peer: prometheus-postgres-exporter, primary only (it queries the database on every scrape)"
  echo "scrape size: $(curl -s "http://127.0.0.1:$peer_port/metrics" | wc -c) bytes"
  wrk -t2 -c16 -d"${load_seconds}s" --latency "http://127.0.0.1:$peer_port/metrics" | grep -E 'Requests/sec|Latency|50%|99%'
  echo "peer RSS after load: $(rss_kib "$peer_pid") KiB"
fi
