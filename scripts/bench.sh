#!/usr/bin/env bash
# Benchmark: prints figures side by side, asserts nothing. On a throwaway
# primary with three streaming replicas (real PostgreSQL 15 on loopback,
# max_connections raised, every login SCRAM) it measures, in one run:
#
#  A. 4 servers, the agent beside prometheus-postgres-exporter (the peer:
#     one process per server, as it is deployed) at equal freshness: each
#     peer scraped once a second (it queries on scrape), the agent polling
#     every second and scraped once a second too. CPU seconds over 60 s,
#     RSS and anonymous RSS, /metrics under wrk (2 threads, 8 connections):
#     requests/s, p50, p99.
#  B. the agent alone at 100 and 1000 servers (25 and 250 clusters of the
#     4 servers, each cluster as its own role, so 1000 real connections and
#     logins): time from start to every server polled (/-/ready), CPU share
#     of one core over 30 s of 1 s polls, RSS, anonymous RSS, threads; CPU
#     share and RSS over another 30 s with /metrics scraped every second by
#     two scrapers asking gzip (an HA pair of Prometheus), and its ratio to
#     the first;
#     /metrics under wrk, on a quiet and on a busy machine (two busy loops
#     beside it), each with the agent's own p99 per scrape from its
#     pg_replica_exporter_scrape_duration_seconds histogram; memory per
#     server from the difference.
#     A load-balancer check (/lb/CLUSTER/SERVER/read-only) under wrk.
#  C. the scrape's cost in instructions (valgrind --tool=callgrind, counted
#     inside Api::Handle: repeatable on a shared machine) per series, for a
#     scrape that finds nothing changed, one cluster changed, every cluster
#     changed, and gzip.
#  D. the agent as the read router's brain: one cluster of the 4 servers
#     with the routing docs/load-balancer.md recommends (health checks every
#     1 s, fall 3, rise 2, max_lag 5s), HAProxy running config/haproxy.cfg
#     (made local by scripts/haproxy-config.py), reads through its read
#     pool; bench/pgre_lb_bench pauses a replica's replay under writes, 10
#     times: from its lag crossing max_lag to the last read it got (median,
#     worst).
#
# Usage (root, Debian 12): scripts/bench.sh [--quick]
#   --quick: 10 s instead of 60 s for A's CPU window, 5 s wrk runs, 3
#   rounds of D.
#   PGRE_BENCH_PARTS=BC (say) runs only those parts (default ABCD).
#   PGRE_BENCH_SIZES="250" (say) runs part B at only those numbers of
#   clusters (default "25 250").
#   PGRE_BENCH_PERF=DIR: part B's two CPU windows also recorded by perf
#   (DWARF call graphs: the release build has no frame pointers; 200 Hz)
#   into DIR (unscraped-N.data, scraped-N.data; N clusters).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cpu_window=60
b_window=30
wrk_seconds=10
lb_rounds=10
parts=${PGRE_BENCH_PARTS:-ABCD}
if [[ ${1:-} == --quick ]]; then
  cpu_window=10
  b_window=10
  wrk_seconds=5
  lb_rounds=3
fi

export DEBIAN_FRONTEND=noninteractive
scripts/install-deps.sh >/dev/null
for pkg in wrk valgrind prometheus-postgres-exporter; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" ||
    apt-get install -y -q "$pkg" >/dev/null
done

cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPGRE_BUILD_TESTS=OFF -DPGRE_BUILD_BENCH=ON >/dev/null
cmake --build build-release -j2 --target pg_replica_exporter pgre_scrape_bench pgre_lb_bench >/dev/null
bin=$root/build-release/pg_replica_exporter
scrape_bench=$root/build-release/bench/pgre_scrape_bench
lb_bench=$root/build-release/bench/pgre_lb_bench
peer_bin=/usr/bin/prometheus-postgres-exporter

# shellcheck source=lib/cluster.sh
source scripts/lib/cluster.sh
pids=()
burners=()
tmp=$(mktemp -d /tmp/pgre-bench-XXXXXX)
cleanup() {
  set +e  # a failing kill or wait must not skip the rest
  for b in "${burners[@]}"; do kill "$b" 2>/dev/null; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  pgc_destroy
  [[ -n ${pg_group:-} ]] && rmdir "$pg_group" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# --- the cluster: 1000 agent connections + the peers + headroom ----------
export PGC_MAX_CONNECTIONS=400
# Every poll reads the servers' backend status (pg_stat_get_activity), which
# copies each backend's query text: with 260 backends a server and 250 polls
# a second on it, that copying alone would saturate these two cores. The
# test bed keeps the query texts short; a production server, polled once a
# second, pays it once a second.
export PGC_EXTRA_CONF="track_activity_query_size = 100"
pgc_create 3 2>"$tmp/cluster.log" || { cat "$tmp/cluster.log"; exit 1; }
ports=("$PGC_PRIMARY_PORT" "${PGC_REPLICA_PORTS[@]}")
# In production the servers are other machines. Here a thousand backends
# share the agent's two cores, and the scheduler would give each of them as
# much CPU as each agent thread: they run in a CPU cgroup of their own with
# a small share (they still get every idle cycle), so that the figures are
# the agent's. Without a cgroup CPU controller they are reniced instead.
pg_pids() {  # every process of the cluster: postmasters and their children
  local pm
  for pm in $(pgrep -u postgres -f "$PGC_DIR"); do
    echo "$pm"
    ps -o pid= --ppid "$pm"
  done
}
pg_group=""
if [[ -d /sys/fs/cgroup/cpu && -w /sys/fs/cgroup/cpu ]]; then
  pg_group=/sys/fs/cgroup/cpu/pgre-bench-$$
  mkdir -p "$pg_group" && echo 64 >"$pg_group/cpu.shares"
  for p in $(pg_pids); do echo "$p" >"$pg_group/cgroup.procs"; done
  pg_isolation="PostgreSQL in a CPU cgroup of share 64 (the agent's: 1024)"
else
  for p in $(pg_pids); do renice -n 19 -p "$p" >/dev/null; done
  pg_isolation="PostgreSQL at nice 19 (no cgroup CPU controller)"
fi
roles=250
{
  echo "CREATE ROLE pgre_bench NOLOGIN;"
  for ((i = 0; i < roles; i++)); do
    echo "CREATE ROLE bench$i LOGIN PASSWORD 'pw-bench-$i' IN ROLE pg_monitor, pgre_bench;"
  done
} >"$tmp/roles.sql"
PGCONNECT_TIMEOUT=10 "$PGC_BINDIR/psql" -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 \
  -p "$PGC_PRIMARY_PORT" -U postgres -d postgres -f "$tmp/roles.sql" >/dev/null
# Their logins use SCRAM; everything else stays trust.
for d in "$PGC_DIR"/primary "$PGC_DIR"/replica*; do
  [[ -d $d ]] || continue
  { echo "host all +pgre_bench 127.0.0.1/32 scram-sha-256"; cat "$d/pg_hba.conf"; } >"$tmp/hba"
  pgc_as_pg tee "$d/pg_hba.conf" <"$tmp/hba" >/dev/null
done
for p in "${ports[@]}"; do pgc_psql "$p" "SELECT pg_reload_conf()" >/dev/null; done
# The roles reach the replicas by replication.
for _ in $(seq 100); do
  [[ $(pgc_psql "${PGC_REPLICA_PORTS[2]}" "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'bench%'") == "$roles" ]] && break
  sleep 0.1
done

dsn() { echo "host=127.0.0.1 port=$1 dbname=postgres user=bench$2 password=pw-bench-$2"; }

# agent_config N_CLUSTERS FILE: N clusters of the 4 servers, cluster k as
# role bench<k>.
agent_config() {
  {
    echo "poll_interval: 1s"
    # Four PostgreSQL servers answer for a thousand here (250 polls a second
    # each, on two shared cores), a load no production server sees: slow
    # answers must not turn into timeouts and reconnects (every SCRAM login
    # costs the client a PBKDF2), which would measure the overload, not
    # the agent. The failed polls are reported beside the figures.
    echo "connect_timeout: 30s"
    echo "query_timeout: 30s"
    echo "clusters:"
    for ((k = 0; k < $1; k++)); do
      echo "  - name: c$k"
      echo "    primary: {dsn: \"$(dsn "${ports[0]}" "$k")\"}"
      echo "    replicas:"
      for r in 1 2 3; do
        echo "      - {name: replica$r, dsn: \"$(dsn "${ports[$r]}" "$k")\"}"
      done
    done
  } >"$2"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# switches PID: context switches of all its threads so far (each time a
# thread blocked or was preempted: about one per wakeup of an idle loop).
switches() {
  cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
mb() { if [[ $1 == - ]]; then echo -; else awk -v kb="$1" 'BEGIN {printf "%.1f MB", kb / 1024}'; fi; }

# wrk_line URL: "R req/s, p50 X, p99 Y" (2 threads, 8 connections).
wrk_line() {
  wrk -t2 -c8 -d"${wrk_seconds}s" --latency "$1" >"$tmp/wrk" 2>&1 || true
  awk '/Requests\/sec/ {rps = $2} $1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2}
       END {printf "%.0f req/s, p50 %s, p99 %s", rps, p50, p99}' "$tmp/wrk"
}

# start_agent CONFIG: starts the agent; sets agent_pid, agent_url, and
# ready_s (seconds from start to /-/ready).
start_agent() {
  local port t0
  port=$(pgc_free_port)
  t0=$(date +%s.%N)
  "$bin" --config.file="$1" --web.listen-address="127.0.0.1:$port" --log.level=warn \
    2>>"$tmp/agent.log" &
  agent_pid=$!
  pids+=("$agent_pid")
  agent_url=http://127.0.0.1:$port
  for _ in $(seq 1200); do
    curl -sf -o /dev/null "$agent_url/-/ready" && break
    sleep 0.05
  done
  ready_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# scrape_hist: "LE COUNT" per bucket of the agent's own time per scrape
# (pg_replica_exporter_scrape_duration_seconds).
scrape_hist() {
  curl -s "$agent_url/metrics" |
    awk '/^pg_replica_exporter_scrape_duration_seconds_bucket/ {
           le = $0; sub(/.*le="/, "", le); sub(/".*/, "", le); print le, $NF }'
}
# hist_p99 BEFORE AFTER: the bucket holding the 99th percentile of the
# scrapes between two scrape_hist readings ("<= 2.5 ms").
hist_p99() {
  paste -d' ' <(echo "$1") <(echo "$2") |
    awk '{le[NR] = $1; d[NR] = $4 - $2} END {
           n = d[NR]; for (i = 1; i <= NR; i++) if (d[i] >= 0.99 * n) {
             if (le[i] == "+Inf") { print "> 1 s"; exit }
             printf "<= %g ms", le[i] * 1000; exit } }'
}
# burn: two busy loops at the agent's priority, as a busy machine has
# (sets burners; stop_burn ends them).
burn() {
  burners=()
  for _ in 1 2; do
    (while :; do :; done) &
    burners+=($!)
  done
}
stop_burn() {
  for b in "${burners[@]}"; do
    kill "$b" 2>/dev/null
    wait "$b" 2>/dev/null || true # 143: killed, as asked (set -e)
  done
  burners=()
}

# scrape_loop URL [CURL_ARGS]: GETs URL once a second, until killed.
scrape_loop() { while true; do curl -s -o /dev/null "$@"; sleep 1; done; }

echo "pg_replica_exporter $("$bin" --version | head -1 | cut -d' ' -f2-), peer $("$peer_bin" --version 2>&1 | head -1)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); PostgreSQL $("$PGC_BINDIR/postgres" --version | awk '{print $3}'), 4 servers on loopback, $pg_isolation"
echo

# --- A. 4 servers, side by side -------------------------------------------
if [[ $parts == *A* ]]; then
agent_config 1 "$tmp/a.yml"
start_agent "$tmp/a.yml"
a_ready=$ready_s
peer_pids=()
peer_urls=()
for i in 0 1 2 3; do
  p=$(pgc_free_port)
  DATA_SOURCE_NAME="$(dsn "${ports[$i]}" 0) sslmode=disable" \
    "$peer_bin" --web.listen-address="127.0.0.1:$p" >/dev/null 2>&1 &
  peer_pids+=($!)
  pids+=($!)
  peer_urls+=("http://127.0.0.1:$p/metrics")
done
for u in "${peer_urls[@]}"; do
  for _ in $(seq 100); do curl -sf -o /dev/null "$u" && break; sleep 0.1; done
done
loops=()
for u in "$agent_url/metrics" "${peer_urls[@]}"; do
  scrape_loop "$u" &
  loops+=($!)
done
sleep 5  # warm up: first polls, first scrapes
a0=$(cpu_ticks "$agent_pid")
p0=0
for p in "${peer_pids[@]}"; do p0=$((p0 + $(cpu_ticks "$p"))); done
sleep "$cpu_window"
a1=$(cpu_ticks "$agent_pid")
p1=0
for p in "${peer_pids[@]}"; do p1=$((p1 + $(cpu_ticks "$p"))); done
for l in "${loops[@]}"; do stop_pid "$l"; done
a_cpu=$(awk -v d=$((a1 - a0)) -v hz="$hz" 'BEGIN {printf "%.2f s", d / hz}')
p_cpu=$(awk -v d=$((p1 - p0)) -v hz="$hz" 'BEGIN {printf "%.2f s", d / hz}')
a_rss=$(status_kb "$agent_pid" VmRSS)
a_anon=$(status_kb "$agent_pid" RssAnon)
p_rss=0
p_anon=0
for p in "${peer_pids[@]}"; do
  p_rss=$((p_rss + $(status_kb "$p" VmRSS)))
  p_anon=$((p_anon + $(status_kb "$p" RssAnon)))
done
a_series=$(curl -s "$agent_url/metrics" | grep -vc '^#')
a_bytes=$(curl -s "$agent_url/metrics" | wc -c)
p_bytes=$(curl -s "${peer_urls[0]}" | wc -c)
a_wrk=$(wrk_line "$agent_url/metrics")
p_wrk=$(wrk_line "${peer_urls[0]}")
for p in "${peer_pids[@]}"; do stop_pid "$p"; done
stop_pid "$agent_pid"

printf '== A. 4 servers, each seen once a second\n'
printf '%-34s | %-34s | %s\n' "" "pg_replica_exporter (1 process)" "prometheus-postgres-exporter (4)"
printf '%-34s | %-34s | %s\n' "CPU over ${cpu_window} s" "$a_cpu" "$p_cpu"
printf '%-34s | %-34s | %s\n' "RSS (anonymous)" "$(mb "$a_rss") ($(mb "$a_anon"))" "$(mb "$p_rss") ($(mb "$p_anon"))"
printf '%-34s | %-34s | %s\n' "/metrics size" "$a_bytes bytes, $a_series series" "$p_bytes bytes (one server)"
printf '%-34s | %-34s | %s\n' "/metrics under wrk -t2 -c8" "$a_wrk" "$p_wrk (one server)"
printf '%-34s | %-34s | %s\n' "start to every server polled" "$a_ready s" "-"
echo

fi

# --- B. the agent alone at 100 and 1000 servers ----------------------------
if [[ $parts == *B* ]]; then
declare -A b_lb_wrk b_wrk_busy b_self b_self_busy b_ratio b_cpu b_cpu_scraped b_rss_scraped b_rss b_anon b_threads b_wrk b_ready b_series b_errors b_polls b_per_poll b_wakeups
# A size not run (PGRE_BENCH_SIZES) prints "-".
for a in b_lb_wrk b_wrk_busy b_self b_self_busy b_ratio b_cpu b_cpu_scraped b_rss_scraped b_rss b_anon b_threads b_wrk b_ready b_series b_errors b_polls b_per_poll b_wakeups; do
  printf -v "${a}[25]" '%s' -
  printf -v "${a}[250]" '%s' -
done
# poll_counts: "POLLS ERRORS", sums of pg_replica_polls_total and
# pg_replica_poll_errors_total.
poll_counts() {
  curl -s "$agent_url/metrics" |
    awk '/^pg_replica_polls_total/ {p += $2} /^pg_replica_poll_errors_total/ {e += $2}
         END {printf "%d %d", p, e}'
}
# window NAME: part B's CPU window (recorded with PGRE_BENCH_PERF).
window() {
  if [[ -n ${PGRE_BENCH_PERF:-} ]]; then
    mkdir -p "$PGRE_BENCH_PERF"
    perf record -q --call-graph dwarf,16384 -F 200 -p "$agent_pid" \
      -o "$PGRE_BENCH_PERF/$1-$clusters.data" -- sleep "$b_window" >/dev/null 2>&1
  else
    sleep "$b_window"
  fi
}
for clusters in ${PGRE_BENCH_SIZES:-25 250}; do
  agent_config "$clusters" "$tmp/b.yml"
  start_agent "$tmp/b.yml"
  b_ready[$clusters]=$ready_s
  sleep 5
  read -r p0 e0 <<<"$(poll_counts)"
  t0=$(cpu_ticks "$agent_pid")
  w0=$(switches "$agent_pid")
  window unscraped
  w1=$(switches "$agent_pid")
  t1=$(cpu_ticks "$agent_pid")
  read -r p1 e1 <<<"$(poll_counts)"
  b_errors[$clusters]=$((e1 - e0))
  b_polls[$clusters]=$(awk -v n=$((p1 - p0)) -v w="$b_window" 'BEGIN {printf "%.0f/s", n / w}')
  b_per_poll[$clusters]=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n=$((p1 - p0)) \
    'BEGIN {printf "%.0f us", (n > 0 ? 1e6 * d / hz / n : 0)}')
  b_wakeups[$clusters]=$(awk -v w=$((w1 - w0)) -v n=$((p1 - p0)) \
    'BEGIN {printf "%.2f", (n > 0 ? w / n : 0)}')
  b_cpu[$clusters]=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v w="$b_window" \
    'BEGIN {printf "%.1f %%", 100 * d / hz / w}')
  b_rss[$clusters]=$(status_kb "$agent_pid" VmRSS)
  b_anon[$clusters]=$(status_kb "$agent_pid" RssAnon)
  b_threads[$clusters]=$(status_kb "$agent_pid" Threads)
  # The same window with /metrics scraped every second by two scrapers (an
  # HA pair of Prometheus servers): the clusters' metrics are then rendered
  # once per poll, in the background (http/exposition.h), whatever the
  # number of scrapers.
  # Gzip, as Prometheus asks (Accept-Encoding: gzip).
  scrape_loop "$agent_url/metrics" --compressed &
  loop=$!
  sleep 0.5
  scrape_loop "$agent_url/metrics" --compressed &
  loop2=$!
  sleep 3  # hot: two scrapes
  s0=$(cpu_ticks "$agent_pid")
  window scraped
  s1=$(cpu_ticks "$agent_pid")
  stop_pid "$loop"
  stop_pid "$loop2"
  b_cpu_scraped[$clusters]=$(awk -v d=$((s1 - s0)) -v hz="$hz" -v w="$b_window" \
    'BEGIN {printf "%.1f %%", 100 * d / hz / w}')
  b_ratio[$clusters]=$(awk -v a=$((t1 - t0)) -v b=$((s1 - s0)) \
    'BEGIN {printf "%.2fx", (a > 0 ? b / a : 0)}')
  b_rss_scraped[$clusters]=$(status_kb "$agent_pid" VmRSS)
  b_series[$clusters]=$(curl -s "$agent_url/metrics" | grep -vc '^#')
  h0=$(scrape_hist)
  b_wrk[$clusters]=$(wrk_line "$agent_url/metrics")
  h1=$(scrape_hist)
  b_self[$clusters]=$(hist_p99 "$h0" "$h1")
  # The same on a busy machine: two busy loops beside the agent, wrk and
  # the servers.
  burn
  h0=$(scrape_hist)
  b_wrk_busy[$clusters]=$(wrk_line "$agent_url/metrics")
  h1=$(scrape_hist)
  stop_burn
  b_self_busy[$clusters]=$(hist_p99 "$h0" "$h1")
  # A load balancer's check of one server (a cluster in the middle).
  b_lb_wrk[$clusters]=$(wrk_line "$agent_url/lb/c$((clusters / 2))/replica2/read-only")
  stop_pid "$agent_pid"
done
per_server=-
if [[ ${b_anon[25]} != - && ${b_anon[250]} != - ]]; then
  per_server=$(awk -v a="${b_anon[25]}" -v b="${b_anon[250]}" 'BEGIN {printf "%.1f KB", (b - a) / 900}')
fi
printf '== B. the agent alone, 1 s polls\n'
printf '%-34s | %-34s | %s\n' "" "100 servers (25 clusters)" "1000 servers (250 clusters)"
printf '%-34s | %-34s | %s\n' "start to every server polled" "${b_ready[25]} s" "${b_ready[250]} s"
printf '%-34s | %-34s | %s\n' "CPU share of one core (${b_window} s)" "${b_cpu[25]}" "${b_cpu[250]}"
printf '%-34s | %-34s | %s\n' "RSS (anonymous)" "$(mb "${b_rss[25]}") ($(mb "${b_anon[25]}"))" "$(mb "${b_rss[250]}") ($(mb "${b_anon[250]}"))"
printf '%-34s | %-34s | %s\n' "CPU share, two scrapers every 1 s" "${b_cpu_scraped[25]}" "${b_cpu_scraped[250]}"
printf '%-34s | %-34s | %s\n' "two scrapers / not scraped" "${b_ratio[25]}" "${b_ratio[250]}"
printf '%-34s | %-34s | %s\n' "RSS after, two scrapers" "$(mb "${b_rss_scraped[25]}")" "$(mb "${b_rss_scraped[250]}")"
printf '%-34s | %-34s | %s\n' "threads" "${b_threads[25]}" "${b_threads[250]}"
printf '%-34s | %-34s | %s\n' "polls done (failed) in those ${b_window} s" "${b_polls[25]} (${b_errors[25]})" "${b_polls[250]} (${b_errors[250]})"
printf '%-34s | %-34s | %s\n' "agent CPU per poll" "${b_per_poll[25]}" "${b_per_poll[250]}"
printf '%-34s | %-34s | %s\n' "context switches per poll" "${b_wakeups[25]}" "${b_wakeups[250]}"
printf '%-34s | %-34s | %s\n' "/metrics series" "${b_series[25]}" "${b_series[250]}"
printf '%-34s | %-34s | %s\n' "/metrics under wrk -t2 -c8" "${b_wrk[25]}" "${b_wrk[250]}"
printf '%-34s | %-34s | %s\n' "  the agent's own p99 (histogram)" "${b_self[25]}" "${b_self[250]}"
printf '%-34s | %-34s | %s\n' "/metrics under wrk, machine busy" "${b_wrk_busy[25]}" "${b_wrk_busy[250]}"
printf '%-34s | %-34s | %s\n' "  the agent's own p99 (histogram)" "${b_self_busy[25]}" "${b_self_busy[250]}"
printf '%-34s | %-34s | %s\n' "/lb/ check under wrk -t2 -c8" "${b_lb_wrk[25]}" "${b_lb_wrk[250]}"
printf '%-34s | %s\n' "anonymous memory per server" "$per_server (from 100 to 1000 servers)"
echo

fi

# --- C. instructions per series (callgrind) --------------------------------
if [[ $parts == *C* ]]; then
# ir CLUSTERS SCRAPES MODE [--gzip]: instructions inside Api::Handle.
ir() {
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
    --toggle-collect='pgre::Api::Handle(pgre::ApiRequest const&) const' \
    "$scrape_bench" --clusters="$1" --scrapes="$2" --mode="$3" ${4:-} \
    >"$tmp/cg.stdout" 2>"$tmp/cg.stderr"
  awk '/Collected :/ {print $4}' "$tmp/cg.stderr"
}
printf '== C. one scrape, instructions per series (callgrind, inside Api::Handle)\n'
printf '%-34s | %-34s | %s\n' "" "4 servers" "1000 servers"
for spec in "cached" "changed-one" "changed-all" "cached --gzip"; do
  read -r mode gz <<<"$spec"
  row=()
  for clusters in 1 250; do
    base=$(ir "$clusters" 1 "$mode" "$gz")
    more=$(ir "$clusters" 11 "$mode" "$gz")
    series=$(awk '{print $6}' "$tmp/cg.stdout")
    row+=("$(awk -v a="$base" -v b="$more" -v s="$series" \
      'BEGIN {printf "%.1f (%.0f per scrape)", (b - a) / 10 / s, (b - a) / 10}')")
  done
  printf '%-34s | %-34s | %s\n' "$spec" "${row[0]}" "${row[1]}"
done
echo

fi

# --- D. the read router's brain: HAProxy draining a lagging replica --------
if [[ $parts == *D* ]]; then
{
  echo "cluster: lb"
  echo "poll_interval: 1s"
  echo "primary: {name: primary, dsn: \"$(pgc_dsn "${ports[0]}")\"}"
  echo "replicas:"
  for r in 1 2 3; do echo "  - {name: replica$r, dsn: \"$(pgc_dsn "${ports[$r]}")\"}"; done
  echo "routing: {health_check_interval: 1s, fall: 3, rise: 2, max_lag: 5s}"
} >"$tmp/d.yml"
start_agent "$tmp/d.yml"
agent_port=${agent_url##*:}
read_port=$(pgc_free_port)
servers=()
for r in 0 1 2 3; do
  name=primary
  [[ $r -gt 0 ]] && name=replica$r
  servers+=(--server "$name=${ports[$r]}")
done
scripts/haproxy-config.py --cluster lb --agent "$agent_port" --writes "$(pgc_free_port)" \
  --reads "$read_port" --stats "$(pgc_free_port)" "${servers[@]}" >"$tmp/haproxy.cfg"
haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/haproxy.log" 2>&1 &
pids+=($!)
printf '== D. HAProxy (config/haproxy.cfg) draining a replica whose lag passes max_lag 5s\n'
printf '   (agent: 1 s polls and health checks, fall 3; HAProxy: inter 1s, fall 2)\n'
"$lb_bench" --read-dsn="$(pgc_dsn "$read_port")" --primary-dsn="$(pgc_dsn "${ports[0]}")" \
  --replica-dsn="$(pgc_dsn "${ports[2]}")" --replica-port="${ports[2]}" \
  --max-lag=5 --rounds="$lb_rounds" | sed 's/^/   /'
stop_pid "$agent_pid"
echo
fi
echo "(figures of one run on this machine; docs/performance.md quotes them)"
