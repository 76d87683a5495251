#!/usr/bin/env python3
"""Generates the Grafana dashboards of pg_replica_exporter.

The JSON files next to this script are its output and are committed; edit
this script (what the dashboards show) or grafana.py (how a panel kind is
rendered), not the JSON, then run

    python3 dashboards/generate.py            # rewrite the JSON files
    python3 dashboards/generate.py --check    # exit 1 if a file is out of date
    python3 dashboards/generate.py --queries  # every query and its scenarios, JSON

(`ctest -R dashboards` runs the check and tests/dashboards/check_dashboards.py;
the e2e test dashboards_test.cc runs every query of --queries against a real
Prometheus in the scenarios each declares.)

A panel is one spec: title, queries, description, and `scenarios`, the
situations (grafana.SCENARIOS) in which its queries must return data. Its
thresholds and colours come from thresholds.toml (scripts/thresholds.py).
Queries never name a scrape job: the Exporters table selects `up` by the
`job` variable, whose values are the jobs of pg_replica_exporter_build_info.

Python 3.11 standard library only.
"""

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))

import thresholds  # noqa: E402
from grafana import (  # noqa: E402
    ALL_STOPPED, HEALTHY, PGBOUNCER, REPLAY_PAUSED, REPLICA_STOPPED, SLOT_INACTIVE,
    Annotation, Bars, Dashboard, Q, Row, Series, Stat, States, Table, Variable,
    label, override, steps, value, value_map)

T = thresholds.load()
OK, WARN, CRIT = (T.colours[k] for k in ("ok", "warning", "critical"))
TAGS = ("postgresql", "replication", "pg_replica_exporter")


def short(name):
    return T[name].format("short")


LAG_TARGET, LAG_ALERT = short("lag.target"), short("lag.alert")
POOL_WARN, POOL_CRIT = short("pool.warning"), short("pool.critical")
SLOT_LIMIT, POLL_STALE = short("slot.retained_wal"), short("poll.stale")
MAXWAIT = short("pgbouncer.maxwait")
POLL_ERRORS_WINDOW = T["window.poll_errors"].format()
CHANGES_WINDOW = T["window.dashboard_changes"].format()

# ---------------------------------------------------------------------------
# Thresholds, colours and value mappings (from thresholds.toml)
# ---------------------------------------------------------------------------

LAG_STEPS = steps((OK, None), (WARN, T.seconds("lag.target")),
                  (CRIT, T.seconds("lag.alert")))
CONN_STEPS = steps((OK, None), (WARN, T["pool.warning"].value),
                   (CRIT, T["pool.critical"].value))
SLOT_STEPS = steps((OK, None), (CRIT, T["slot.retained_wal"].value))
POLL_STEPS = steps((OK, None), (CRIT, T.seconds("poll.stale")))
MAXWAIT_STEPS = steps((OK, None), (CRIT, T.seconds("pgbouncer.maxwait")))
ONE_IS_OK = steps((CRIT, None), (OK, 1))
ONE_IS_BAD = steps((OK, None), (CRIT, 1))
PLAIN = steps(("blue", None))

UP_MAP = value_map((0, "DOWN", CRIT), (1, "UP", OK))
YES_NO_BAD = value_map((0, "no", OK), (1, "YES", CRIT))
YES_NO = value_map((0, "no", CRIT), (1, "yes", OK))
ROTATION_MAP = value_map((0, "out", CRIT), (1, "in rotation", OK))
STREAMING_MAP = value_map((0, "not streaming", CRIT), (1, "streaming", OK))
OK_MAP = value_map((0, "failed", CRIT), (1, "ok", OK))
ACTIVE_MAP = value_map((0, "inactive", WARN), (1, "active", OK))
CONNECTED_MAP = value_map((0, "not connected", CRIT), (1, "connected", OK))
ROLE_MAP = value_map((0, "primary", "blue"), (1, "replica", "purple"))
RECOVERY_MAP = value_map((0, "primary", "blue"), (1, "standby", "purple"))
PAUSED_MAP = value_map((0, "replaying", OK), (1, "PAUSED", WARN))
RELOAD_MAP = value_map((0, "FAILED", CRIT), (1, "ok", OK))

# ---------------------------------------------------------------------------
# Label matchers and shared queries
# ---------------------------------------------------------------------------
#
# Two exporters watching the same cluster publish the same series with
# different instance labels: like the rules, every query dedupes with
# max by (server, ...) so that nothing is counted twice.

C = 'cluster="$cluster"'
CS = 'cluster="$cluster", server=~"$server"'  # overview: $server multi-valued
S = 'cluster="$cluster", server="$server"'  # server detail: one server


def utilization(sel):
    """Client backends / usable connections (max - superuser reserved)."""
    return (f"sum by (server) (max by (server, state) (pg_replica_connections{{{sel}}}))\n"
            f"/\n"
            f"max by (server) (pg_replica_max_connections{{{sel}}} - "
            f"pg_replica_superuser_reserved_connections{{{sel}}} > 0)")


def role_query(sel):
    """0 for the configured primary, 1 for a configured replica."""
    return (f'max by (server) (pg_replica_up{{{sel}, role="replica"}} * 0 + 1'
            f' or pg_replica_up{{{sel}, role="primary"}} * 0)')


def per_server(metric, sel=CS, by="server"):
    return f"max by ({by}) ({metric}{{{sel}}})"


USABLE_DASHED = (("custom.stacking", {"mode": "none", "group": "A"}),
                 ("custom.fillOpacity", 0),
                 ("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}))


def detail_link(server_expr):
    return ("/d/pg-replica-server/pg-replica-server?var-datasource=${datasource}"
            "&var-cluster=${cluster}&var-server=" + server_expr
            + "&${__url_time_range}")


SERVER_LINK = [{"title": "Server detail",
                "url": detail_link("${__data.fields.Server}")}]
SERIES_SERVER_LINK = [{"title": "Server detail: ${__field.labels.server}",
                       "url": detail_link("${__field.labels.server}")}]

DASHBOARD_LINKS = [{
    "asDropdown": False, "icon": "external link", "includeVars": True,
    "keepTime": True, "tags": ["pg_replica_exporter"], "targetBlank": False,
    "title": "pg_replica_exporter", "type": "dashboards",
    "tooltip": "The other pg_replica_exporter dashboards", "url": "",
}]

# ---------------------------------------------------------------------------
# Variables and annotations
# ---------------------------------------------------------------------------

CLUSTER_VARIABLE = Variable(
    "cluster", "Cluster", "label_values(pg_replica_up, cluster)",
    "The cluster label of the exporter (config key cluster, or the name of "
    "an entry of clusters).", scenarios=(HEALTHY,))

JOB_VARIABLE = Variable(
    "job", "Job", "label_values(pg_replica_exporter_build_info, job)",
    "The scrape jobs that scrape a pg_replica_exporter (whatever their "
    "name), for the Exporters table.", scenarios=(HEALTHY,), multi=True,
    include_all=True)


def server_variable(multi):
    return Variable(
        "server", "Server",
        'label_values(pg_replica_up{cluster="$cluster"}, server)',
        "Servers shown in the per-server graphs." if multi
        else "The server shown.", scenarios=(HEALTHY,), multi=multi,
        include_all=multi)


# PgReplicaExporterDown has no cluster label: `cluster=~"$cluster|"` also
# matches alerts without one.
ALERTS_ANNOTATION = Annotation(
    "Firing pg_replica alerts",
    'ALERTS{alertname=~"Pg.*", alertstate="firing", cluster=~"$cluster|"}',
    title="{{alertname}}", text="{{severity}} {{server}}",
    tags="severity,server", scenarios=(REPLICA_STOPPED, ALL_STOPPED))

# ---------------------------------------------------------------------------
# Overview
# ---------------------------------------------------------------------------

OVERVIEW_CLUSTER = [
    Row("Cluster $cluster"),
    Stat("Primary", [Q(f"max(pg_replica_up{{{C}}} and on (server) "
                       f"(pg_replica_is_primary{{{C}}} == 1))")],
         doc="Whether the exporter can poll the primary: the server observed "
         "out of recovery (pg_replica_is_primary), the configured one until a "
         "failover. Alert: PgPrimaryDown.",
         scenarios=(HEALTHY,), mappings=UP_MAP, thresholds=ONE_IS_OK),
    Stat("Replicas up", [
        Q(f"sum(max by (server) (pg_replica_up{{{C}}} unless on (server) "
          f"(pg_replica_is_primary{{{C}}} == 1)))", "up"),
        Q(f"count(max by (server) (pg_replica_up{{{C}}} unless on (server) "
          f"(pg_replica_is_primary{{{C}}} == 1)))", "configured")],
         doc="Servers other than the primary that the exporter can poll, and "
         "how many there are. Alert: PgReplicaDown.",
         scenarios=(HEALTHY, REPLICA_STOPPED, ALL_STOPPED),
         colour_mode="value", decimals=0),
    Stat("Replicas in rotation",
         [Q(f"sum(max by (server) (pg_replica_healthy{{{C}}}))", "in rotation")],
         doc="Replicas the routing model sends reads to (pg_replica_healthy): "
         "up, passing health checks and under routing.max_lag. "
         "Alert: PgReplicaOutOfRotation.",
         scenarios=(HEALTHY, REPLICA_STOPPED, ALL_STOPPED),
         thresholds=ONE_IS_OK, decimals=0, no_value="routing not started"),
    Stat("Read failover", [Q(f"max(pg_replica_read_failover_active{{{C}}})")],
         doc="YES while no replica is in rotation and reads go to the "
         "primary. Alert: PgReadFailoverActive.",
         scenarios=(HEALTHY, ALL_STOPPED), mappings=YES_NO_BAD,
         thresholds=ONE_IS_BAD, no_value="routing not started"),
    Stat("Primaries observed", [Q(f"pg_replica:primaries:count{{{C}}}")],
         doc="Servers out of recovery (recording rule "
         "pg_replica:primaries:count; needs rules/pg_replica_exporter.rules.yml "
         "loaded). Exactly 1 is healthy: 0 = nothing accepts writes, 2+ = "
         "split brain. Alert: PgClusterPrimaryCount.",
         scenarios=(HEALTHY,), thresholds=steps((CRIT, None), (OK, 1), (CRIT, 2)),
         decimals=0),
    Stat("Max replica lag", [Q(f"max(pg_replica_lag_seconds{{{C}}})")],
         doc=f"Largest replication lag of the cluster's replicas, on the "
         f"agent's clock. Target under {LAG_TARGET}; PgReplicaLagHigh fires "
         f"over {LAG_ALERT}.",
         scenarios=(HEALTHY, REPLAY_PAUSED), unit="s", thresholds=LAG_STEPS,
         graph=True),
    Stat("Max connection utilization", [Q(f"max({utilization(C)})")],
         doc=f"Highest connection utilization of the cluster's servers: "
         f"client backends / (max_connections - superuser_reserved_connections). "
         f"Warning over {POOL_WARN}, critical over {POOL_CRIT}.",
         scenarios=(HEALTHY,), unit="percentunit", thresholds=CONN_STEPS,
         graph=True),
    Stat("Firing alerts", [Q('count(ALERTS{alertname=~"Pg.*", alertstate="firing", '
                             'cluster=~"$cluster|"}) or vector(0)')],
         doc="pg_replica alerts firing now for this cluster (and "
         "PgReplicaExporterDown, which has no cluster label). They are also "
         "drawn as annotations on every graph.",
         scenarios=(HEALTHY, REPLICA_STOPPED), thresholds=ONE_IS_BAD,
         decimals=0),
    Table("Servers", columns=(
        label("server", "Server", links=SERVER_LINK),
        value("Role", role_query(C), mappings=ROLE_MAP),
        value("Up", per_server("pg_replica_up", C), mappings=UP_MAP,
              thresholds=ONE_IS_OK),
        value("Observed", per_server("pg_replica_in_recovery", C),
              mappings=RECOVERY_MAP),
        value("Read rotation", per_server("pg_replica_healthy", C),
              mappings=ROTATION_MAP, thresholds=ONE_IS_OK),
        value("Lag", per_server("pg_replica_lag_seconds", C), unit="s",
              thresholds=LAG_STEPS),
        value("Lag bytes", per_server("pg_replica_lag_bytes", C), unit="bytes"),
        value("WAL receiver", per_server("pg_replica_wal_receiver_streaming", C),
              mappings=STREAMING_MAP, thresholds=ONE_IS_OK),
        value("In pg_stat_replication", per_server("pg_replica_standby_connected", C),
              mappings=CONNECTED_MAP, thresholds=ONE_IS_OK),
        value("Connections used", utilization(C), unit="percentunit",
              thresholds=CONN_STEPS),
        value("Timeline", per_server("pg_replica_timeline_id", C))),
        doc="One row per configured server. Empty cells are series the "
        "exporter does not publish for that server: lag, WAL receiver and "
        "pg_stat_replication columns exist for replicas only, and every "
        "column but Role and Up is empty while a server cannot be polled "
        "(lag is never shown as 0 then). Click a server for its detail "
        "dashboard.",
        scenarios=(HEALTHY, REPLICA_STOPPED), sort_by="Server", w=24, h=7),
]

OVERVIEW_LAG = [
    Row("Replication lag"),
    Series("Replication lag (seconds)",
           [Q(per_server("pg_replica_lag_seconds"), "{{server}}")],
           doc=f"pg_replica_lag_seconds: time since the primary first passed "
           f"the replica's replay position, measured on the agent's monotonic "
           f"clock (0 when the replica has replayed everything, also while the "
           f"primary is idle). Dashed lines: the {LAG_TARGET} target and the "
           f"{LAG_ALERT} alert threshold (PgReplicaLagHigh). A gap means the "
           f"replica could not be polled: lag is unknown, not 0.",
           scenarios=(HEALTHY, REPLAY_PAUSED), unit="s", thresholds=LAG_STEPS,
           threshold_lines=True, links=SERIES_SERVER_LINK),
    Series("Replication lag (bytes)",
           [Q(per_server("pg_replica_lag_bytes"), "{{server}}")],
           doc="pg_replica_lag_bytes: the primary's current WAL position minus "
           "the replica's replay position.",
           scenarios=(REPLAY_PAUSED,), unit="bytes"),
    Series("Heartbeat lag: write-to-read visibility (seconds)",
           [Q(per_server("pg_replica_heartbeat_lag_seconds"), "{{server}}")],
           doc=f"pg_replica_heartbeat_lag_seconds (heartbeat.enabled): the "
           f"agent's wall-clock time minus the newest heartbeat the replica "
           f"shows, i.e. how long a write on the primary takes to become "
           f"readable there, replay delays included. Reads between 0 and "
           f"heartbeat.interval on a caught-up replica. Above the WAL-position "
           f"lag when replay is delayed or paused. Alert: "
           f"PgReplicaHeartbeatLagHigh (over {LAG_ALERT}). Empty with the "
           f"heartbeat off.",
           scenarios=(HEALTHY, REPLAY_PAUSED), unit="s", thresholds=LAG_STEPS,
           threshold_lines=True, links=SERIES_SERVER_LINK),
    States("Heartbeat writes",
           [Q(f"max(pg_replica_heartbeat_write_success{{{C}}})", "writes")],
           doc="pg_replica_heartbeat_write_success: whether the agent's last "
           "heartbeat write on the primary succeeded. Alert: "
           "PgReplicaHeartbeatWriteFailing (the error is in "
           "/v1/system/database/replicas/status, heartbeat.lastError).",
           scenarios=(HEALTHY,), mappings=OK_MAP, h=6),
    States("WAL receiver",
           [Q(per_server("pg_replica_wal_receiver_streaming"), "{{server}}")],
           doc="pg_replica_wal_receiver_streaming: whether the replica's WAL "
           "receiver is streaming from the primary. Alert: "
           "PgReplicaNotStreaming.",
           scenarios=(HEALTHY, REPLICA_STOPPED), mappings=STREAMING_MAP, h=6),
    States("Replica in primary's pg_stat_replication",
           [Q(per_server("pg_replica_standby_connected"), "{{server}}")],
           doc="pg_replica_standby_connected: whether the primary's "
           "pg_stat_replication has a row with the replica's application_name.",
           scenarios=(HEALTHY, REPLICA_STOPPED), mappings=CONNECTED_MAP, h=6),
    Series("Lag reported by the primary (replay_lag)",
           [Q(f'max by (standby) (pg_replica_stat_replication_lag_seconds{{{C}, '
              f'kind="replay"}})', "{{standby}}")],
           doc="pg_stat_replication.replay_lag as the primary reports it, per "
           "standby application_name, for comparison with the agent's own "
           "measurement. PostgreSQL computes it only while WAL is flowing; "
           "the series is absent when the server reports NULL for a standby "
           "that is not caught up.",
           scenarios=(HEALTHY, REPLAY_PAUSED), unit="s", thresholds=LAG_STEPS,
           threshold_lines=True, h=7),
    States("WAL replay",
           [Q(per_server("pg_replica_replay_paused"), "{{server}}")],
           doc="pg_replica_replay_paused: PAUSED while WAL replay is paused on "
           "the replica (pg_wal_replay_pause()); its lag grows.",
           scenarios=(REPLAY_PAUSED,), mappings=PAUSED_MAP, h=7),
]

OVERVIEW_CONNECTIONS = [
    Row("Connections"),
    Series("Connection utilization", [Q(utilization(CS), "{{server}}")],
           doc=f"Client backends (every pg_stat_activity state, the agent's "
           f"own connections excluded) / (max_connections - "
           f"superuser_reserved_connections), per server. Dashed lines: "
           f"{POOL_WARN} (PgConnectionUtilizationHigh) and {POOL_CRIT} "
           f"(PgConnectionUtilizationCritical).",
           scenarios=(HEALTHY,), unit="percentunit", thresholds=CONN_STEPS,
           threshold_lines=True, max=1, links=SERIES_SERVER_LINK),
    Bars("Connection utilization now", [Q(utilization(CS), "{{server}}")],
         doc="Current utilization per server.", scenarios=(HEALTHY,),
         unit="percentunit", thresholds=CONN_STEPS, max=1),
    Series("Connections by state: $server", [
        Q(per_server("pg_replica_connections", by="state"), "{{state}}"),
        Q(f"max(pg_replica_max_connections{{{CS}}} - "
          f"pg_replica_superuser_reserved_connections{{{CS}}})",
          "usable (max - reserved)")],
           doc="pg_replica_connections by pg_stat_activity state, stacked, "
           "with the usable connections as a line. One panel per selected "
           "server.",
           scenarios=(HEALTHY,), stack=True, decimals=0, repeat="server",
           overrides=[override("usable (max - reserved)", *USABLE_DASHED,
                               ("color", {"mode": "fixed", "fixedColor": CRIT}))],
           w=8),
]

OVERVIEW_ROUTING = [
    Row("Read routing"),
    Series("Routed reads per second", [
        Q(f"max by (server) (rate(pg_replica_routed_reads_total{{{CS}}}"
          f"[$__rate_interval]))", "{{server}}")],
           doc="Synthetic reads the routing model sent to each server per "
           "second. With every replica in rotation the round-robin gives each "
           "replica a share proportional to its weight and the primary none; "
           "reads on the primary mean failover.",
           scenarios=(HEALTHY, ALL_STOPPED), unit="reqps", stack=True),
    Bars("Share of routed reads (dashboard range)", [
        Q(f"max by (server) (increase(pg_replica_routed_reads_total{{{CS}}}[$__range]))\n"
          f"/ scalar(sum(max by (server) (increase(pg_replica_routed_reads_total"
          f"{{{CS}}}[$__range]))))", "{{server}}")],
         doc="Each server's share of the routed reads over the dashboard's "
         "time range: equal shares (for equal weights) show the round-robin "
         "distribution.",
         scenarios=(HEALTHY,), unit="percentunit", max=1, thresholds=PLAIN,
         instant=True),
    States("Read rotation", [
        Q(per_server("pg_replica_healthy"), "{{server}}",
          scenarios=(HEALTHY, REPLICA_STOPPED)),
        Q(f"max(pg_replica_read_failover_active{{{C}}}) + 2", "read failover",
          scenarios=(HEALTHY, ALL_STOPPED))],
           doc="Which replicas are in the read rotation (pg_replica_healthy), "
           "and (last row) whether reads fail over to the primary because no "
           "replica is in rotation (pg_replica_read_failover_active).",
           scenarios=(), mappings=value_map(
               (0, "out", CRIT), (1, "in rotation", OK),
               (2, "replicas serve reads", OK), (3, "reads on primary", CRIT)),
           h=7),
    Series(f"Rotation changes ({CHANGES_WINDOW})", [
        Q(f"max by (server) (increase(pg_replica_rotation_changes_total{{{CS}}}"
          f"[{CHANGES_WINDOW}]))", "{{server}}")],
           doc=f"Times a replica entered or left the read rotation in the last "
           f"{T['window.dashboard_changes'].format('words')} "
           f"(pg_replica_rotation_changes_total). Steady non-zero values mean "
           f"flapping: compare with lag and health checks.",
           scenarios=(REPLICA_STOPPED,), decimals=0, bars=True, h=7),
    States("Synthetic check",
           [Q(per_server("pg_replica_synthetic_check_success"), "{{server}}")],
           doc="pg_replica_synthetic_check_success: whether the last synthetic "
           "read (routing.probe_query) routed to the server succeeded.",
           scenarios=(HEALTHY,), mappings=OK_MAP, h=7),
    Series("Synthetic check duration",
           [Q(per_server("pg_replica_synthetic_check_duration_seconds"), "{{server}}")],
           doc="Duration of the last synthetic read on each server.",
           scenarios=(HEALTHY,), unit="s", h=7),
]

OVERVIEW_SLOTS = [
    Row("Replication slots"),
    States("Slot active", [Q(per_server("pg_replica_slot_active", by="server, slot"),
                             "{{server}} {{slot}}")],
           doc="pg_replica_slot_active per replication slot. An inactive slot "
           "keeps WAL on its server: alert PgReplicationSlotInactive after "
           f"{T['for.PgReplicationSlotInactive'].format('words')}.",
           scenarios=(HEALTHY, SLOT_INACTIVE), mappings=ACTIVE_MAP, h=7),
    Series("WAL retained by slots", [
        Q(per_server("pg_replica_slot_retained_wal_bytes", by="server, slot"),
          "{{server}} {{slot}}")],
           doc=f"pg_replica_slot_retained_wal_bytes: WAL each slot holds back. "
           f"Dashed line: the {SLOT_LIMIT} threshold of "
           f"PgReplicationSlotRetainedWalHigh.",
           scenarios=(HEALTHY, SLOT_INACTIVE), unit="bytes",
           thresholds=SLOT_STEPS, threshold_lines=True, h=7),
    Table("Slot WAL status", columns=(
        label("server", "Server"), label("slot", "Slot"),
        label("wal_status", "wal_status"),
        value("Value", f"{per_server('pg_replica_slot_wal_status', by='server, slot, wal_status')} == 1",
              hidden=True)),
          doc="The wal_status of each slot: reserved and extended are fine; "
          "unreserved means WAL the consumer needs goes at the next "
          "checkpoint, lost means it is gone (PgReplicationSlotWalLost).",
          scenarios=(HEALTHY, SLOT_INACTIVE), sort_by="Server", w=24, h=5),
]

OVERVIEW_EXPORTER = [
    Row("Exporter and polling"),
    Series("Last successful poll age", [
        Q(f"time() - {per_server('pg_replica_last_poll_success_timestamp_seconds')}",
          "{{server}}")],
           doc=f"Seconds since each server's last successful poll. It grows "
           f"while a server is down; over {POLL_STALE} while the server is "
           f"reported up means a stuck poll loop (PgReplicaPollStale).",
           scenarios=(HEALTHY, REPLICA_STOPPED), unit="s", thresholds=POLL_STEPS,
           threshold_lines=True, w=8, h=7),
    Series(f"Poll errors ({POLL_ERRORS_WINDOW})", [
        Q(f"max by (server) (increase(pg_replica_poll_errors_total{{{CS}}}"
          f"[{POLL_ERRORS_WINDOW}]))", "{{server}}")],
           doc=f"Failed polls in the last "
           f"{T['window.poll_errors'].format('words')} (connect errors, "
           f"timeouts, broken connections). Alert: PgReplicaPollFailing.",
           scenarios=(REPLICA_STOPPED,), decimals=0, w=8, h=7),
    Series("Poll duration",
           [Q(per_server("pg_replica_poll_duration_seconds"), "{{server}}")],
           doc="Duration of the last poll of each server (one pipelined round "
           "trip; bounded by query_timeout).",
           scenarios=(HEALTHY,), unit="s", w=8, h=7),
    States("Collectors", [
        Q(f"min by (server, collector) (pg_replica_collector_success{{{CS}}})",
          "{{server}} {{collector}}")],
           doc="pg_replica_collector_success per server and collector. A "
           "failing collector on a reachable server usually means a missing "
           "pg_monitor grant (PgReplicaCollectorFailing).",
           scenarios=(HEALTHY,), mappings=OK_MAP, w=16),
    Table("Exporters", columns=(
        label("instance", "Instance"), label("version", "Version"),
        label("revision", "Revision"),
        value("Scraped", 'max by (instance) (up{job=~"$job"})', mappings=UP_MAP,
              thresholds=ONE_IS_OK),
        value("build", "max by (instance, version, revision) "
              "(pg_replica_exporter_build_info)", hidden=True),
        value("Config reload", "max by (instance) "
              "(pg_replica_exporter_config_last_reload_successful)",
              mappings=RELOAD_MAP, thresholds=ONE_IS_OK),
        value("Config loaded", "max by (instance) "
              "(pg_replica_exporter_config_last_reload_success_timestamp_seconds)"
              " * 1000", unit="dateTimeFromNow")),
          doc="Every pg_replica_exporter target of the selected scrape jobs "
          "(the Job variable): whether Prometheus can scrape it (alert "
          "PgReplicaExporterDown), its version "
          "(pg_replica_exporter_build_info), whether the last configuration "
          "reload (SIGHUP, systemctl reload) succeeded, and when the running "
          "configuration was loaded.",
          scenarios=(HEALTHY,), w=8),
]

# PgBouncer series carry `server` (the server a pgbouncer fronts, "" for
# none): the overview selects by cluster only, so that pgbouncers without a
# server show too; the server detail matches server="$server".
POOL = "pgbouncer, database, user"
POOL_LEGEND = "{{pgbouncer}} {{database}}/{{user}}"


def per_pool(metric, sel=C):
    return f"max by ({POOL}) ({metric}{{{sel}}})"


OVERVIEW_PGBOUNCER = [
    Row("PgBouncer"),
    States("PgBouncer up",
           [Q(f"max by (pgbouncer) (pg_replica_pgbouncer_up{{{C}}})",
              "{{pgbouncer}}")],
           doc="pg_replica_pgbouncer_up: whether the last poll of each "
           "configured pgbouncer's admin console (pgbouncers) succeeded. "
           "Alert: PgBouncerDown. Empty without pgbouncers configured.",
           scenarios=(PGBOUNCER,), mappings=UP_MAP, w=8, h=7),
    Series("Pool utilization (sv_active / pool_size)",
           [Q(per_pool("pg_replica_pgbouncer_pool_utilization_ratio"),
              POOL_LEGEND)],
           doc=f"pg_replica_pgbouncer_pool_utilization_ratio per pool "
           f"(database/user): server connections linked to a client over the "
           f"database's pool_size. At 100 % new transactions wait. Dashed "
           f"lines: {POOL_WARN} (PgBouncerPoolUtilizationHigh) and "
           f"{POOL_CRIT} (PgBouncerPoolUtilizationCritical).",
           scenarios=(PGBOUNCER,), unit="percentunit", thresholds=CONN_STEPS,
           threshold_lines=True, max=1, w=16, h=7),
    Series("Clients waiting", [
        Q(per_pool("pg_replica_pgbouncer_pool_client_waiting_connections"),
          POOL_LEGEND)],
           doc="pg_replica_pgbouncer_pool_client_waiting_connections "
           "(SHOW POOLS cl_waiting): clients waiting for a server connection "
           "of their pool. Non-zero for more than an instant means the pool "
           "is exhausted.",
           scenarios=(PGBOUNCER,), decimals=0, w=8, h=7),
    Series("Oldest waiting client (maxwait)", [
        Q(per_pool("pg_replica_pgbouncer_pool_maxwait_seconds"), POOL_LEGEND)],
           doc=f"pg_replica_pgbouncer_pool_maxwait_seconds (SHOW POOLS maxwait "
           f"+ maxwait_us): how long the oldest waiting client of each pool has "
           f"waited. Dashed line: {MAXWAIT} (PgBouncerClientsWaiting).",
           scenarios=(PGBOUNCER,), unit="s", thresholds=MAXWAIT_STEPS,
           threshold_lines=True, w=8, h=7),
    Series("Client connections / max_client_conn", [
        Q(f"max by (pgbouncer) "
          f"(pg_replica_pgbouncer_client_utilization_ratio{{{C}}})",
          "{{pgbouncer}}")],
           doc="pg_replica_pgbouncer_client_utilization_ratio: every pool's "
           "cl_active + cl_waiting over max_client_conn (SHOW CONFIG), the "
           "agent's own console connection included. At 100 % pgbouncer "
           "refuses new clients.",
           scenarios=(PGBOUNCER,), unit="percentunit", max=1, w=8, h=7),
]

OVERVIEW = Dashboard(
    uid="pg-replica-overview", title="PostgreSQL replicas: overview",
    doc="pg_replica_exporter: a PostgreSQL primary and its streaming read "
    "replicas: availability, replication lag, connections, read routing, "
    "replication slots, PgBouncer pools and the exporter's own polling.",
    variables=[CLUSTER_VARIABLE, server_variable(multi=True), JOB_VARIABLE],
    annotations=[ALERTS_ANNOTATION],
    specs=(OVERVIEW_CLUSTER + OVERVIEW_LAG + OVERVIEW_CONNECTIONS
           + OVERVIEW_ROUTING + OVERVIEW_SLOTS + OVERVIEW_PGBOUNCER
           + OVERVIEW_EXPORTER),
    tags=TAGS, links=DASHBOARD_LINKS)

# ---------------------------------------------------------------------------
# Server detail
# ---------------------------------------------------------------------------

DETAIL_STATUS = [
    Row("$server"),
    Stat("Up", [Q(f"max(pg_replica_up{{{S}}})")],
         doc="Whether the last poll of the server succeeded.",
         scenarios=(HEALTHY, REPLICA_STOPPED), mappings=UP_MAP,
         thresholds=ONE_IS_OK),
    Stat("Configured role", [Q(f"max({role_query(S)})")],
         doc="The role the server has in the exporter's configuration.",
         scenarios=(HEALTHY,), mappings=ROLE_MAP, colour_mode="value"),
    Stat("Observed role", [Q(f"max(pg_replica_in_recovery{{{S}}})")],
         doc="pg_replica_in_recovery: standby while the server is in "
         "recovery. A configured replica observed as primary has been "
         "promoted.",
         scenarios=(HEALTHY,), mappings=RECOVERY_MAP, colour_mode="value",
         no_value="not polled"),
    Stat("Read rotation", [Q(f"max(pg_replica_healthy{{{S}}})")],
         doc="pg_replica_healthy: whether the routing model sends reads to "
         "this replica.",
         scenarios=(HEALTHY,), mappings=ROTATION_MAP, thresholds=ONE_IS_OK,
         no_value="–"),
    Stat("Lag", [Q(f"max(pg_replica_lag_seconds{{{S}}})")],
         doc=f"Replication lag on the agent's clock; target under "
         f"{LAG_TARGET}, alert over {LAG_ALERT}.",
         scenarios=(HEALTHY, REPLAY_PAUSED), unit="s", thresholds=LAG_STEPS,
         graph=True, no_value="–"),
    Stat("Lag bytes", [Q(f"max(pg_replica_lag_bytes{{{S}}})")],
         doc="WAL the replica has not replayed yet.",
         scenarios=(REPLAY_PAUSED,), unit="bytes", colour_mode="value",
         graph=True, no_value="–"),
    Stat("Connections used", [Q(f"max({utilization(S)})")],
         doc="Client backends / (max_connections - "
         "superuser_reserved_connections).",
         scenarios=(HEALTHY,), unit="percentunit", thresholds=CONN_STEPS,
         graph=True),
    Stat("Timeline", [Q(f"max(pg_replica_timeline_id{{{S}}})")],
         doc="The server's timeline; it changes with a promotion.",
         scenarios=(HEALTHY,), colour_mode="value", decimals=0),
]

DETAIL_REPLICATION = [
    Row("Replication"),
    Series("Lag: agent vs primary's pg_stat_replication", [
        Q(f"max(pg_replica_lag_seconds{{{S}}})", "agent (pg_replica_lag_seconds)",
          scenarios=(HEALTHY, REPLAY_PAUSED)),
        Q(f"max(pg_replica_heartbeat_lag_seconds{{{S}}})",
          "heartbeat (write to read)", scenarios=(HEALTHY, REPLAY_PAUSED)),
        Q(f'max by (kind) (pg_replica_stat_replication_lag_seconds{{{C}, '
          f'standby="$server"}})', "primary: {{kind}}_lag")],
           doc=f"The agent's lag measurement (and, with the heartbeat on, the "
           f"write-to-read heartbeat lag) next to the write/flush/replay "
           f"lag the primary reports for the standby whose application_name is "
           f"the server name (if the replica uses another application_name, "
           f"the primary's series are not shown). Dashed lines: {LAG_TARGET} "
           f"target, {LAG_ALERT} alert.",
           scenarios=(HEALTHY,), unit="s", thresholds=LAG_STEPS,
           threshold_lines=True),
    Series("Lag (bytes)", [Q(f"max(pg_replica_lag_bytes{{{S}}})", "replay lag")],
           doc="Primary's WAL position minus this replica's replay position.",
           scenarios=(REPLAY_PAUSED,), unit="bytes"),
    Series("WAL throughput", [
        Q(f"max by (server) (clamp_min(deriv(pg_replica_wal_lsn_bytes{{{C}}}"
          f"[$__rate_interval]), 0))", "{{server}} writes"),
        Q(f"max(clamp_min(deriv(pg_replica_wal_receive_lsn_bytes{{{S}}}"
          f"[$__rate_interval]), 0))", "$server receives"),
        Q(f"max(clamp_min(deriv(pg_replica_wal_replay_lsn_bytes{{{S}}}"
          f"[$__rate_interval]), 0))", "$server replays")],
           doc="How fast the primary writes WAL and this replica receives and "
           "replays it (slope of the LSN positions). Replay slower than "
           "writes for long means growing lag.",
           scenarios=(HEALTHY, REPLAY_PAUSED), unit="Bps"),
    States("Replication state", [
        Q(f"max(pg_replica_wal_receiver_streaming{{{S}}})", "WAL receiver streaming"),
        Q(f"max(pg_replica_standby_connected{{{S}}})", "in primary's pg_stat_replication"),
        Q(f"1 - max(pg_replica_replay_paused{{{S}}})", "replay running")],
           doc="Whether the WAL receiver streams, whether the primary lists "
           "the replica in pg_stat_replication, and whether replay runs (not "
           "paused).",
           scenarios=(HEALTHY, REPLAY_PAUSED), mappings=YES_NO),
    Series("Age of the last message / replayed transaction", [
        Q(f"time() - max(pg_replica_wal_receiver_last_message_receipt_timestamp_seconds{{{S}}})",
          "since the WAL receiver last heard from its sender",
          scenarios=(HEALTHY, REPLAY_PAUSED)),
        Q(f"time() - max(pg_replica_last_replay_timestamp_seconds{{{S}}})",
          "since the last replayed commit", scenarios=(REPLAY_PAUSED,))],
           doc="Informational, not lag: both use the standby's/primary's "
           "clock, so clock skew shifts them, and the replayed-commit age grows "
           "while the primary is idle (which is why the agent measures lag "
           "itself).",
           scenarios=(), unit="s"),
    Table("pg_stat_replication row", columns=(
        label("server", "Reported by"), label("standby", "Standby"),
        label("client_addr", "Client address"), label("state", "State"),
        label("sync_state", "Sync state"),
        value("Value", f'max by (server, standby, client_addr, state, sync_state) '
              f'(pg_replica_stat_replication_info{{{C}, standby="$server"}})',
              hidden=True)),
          doc="The primary's pg_stat_replication row for this replica "
          "(application_name = server name).",
          scenarios=(HEALTHY,)),
]

DETAIL_CONNECTIONS = [
    Row("Connections"),
    Series("Connections by state", [
        Q(f"max by (state) (pg_replica_connections{{{S}}})", "{{state}}"),
        Q(f"max(pg_replica_max_connections{{{S}}} - "
          f"pg_replica_superuser_reserved_connections{{{S}}})",
          "usable (max - reserved)"),
        Q(f"max(pg_replica_max_connections{{{S}}})", "max_connections")],
           doc="Client backends by pg_stat_activity state (stacked), usable "
           "and maximum connections as lines.",
           scenarios=(HEALTHY,), stack=True, decimals=0,
           overrides=[override("usable.*|max_connections", *USABLE_DASHED,
                               regex=True)]),
    Series("Connection utilization", [Q(utilization(S), "{{server}}")],
           doc=f"Dashed lines: {POOL_WARN} warning, {POOL_CRIT} critical.",
           scenarios=(HEALTHY,), unit="percentunit", thresholds=CONN_STEPS,
           threshold_lines=True, max=1),
]

DETAIL_ROUTING = [
    Row("Read routing and synthetic checks"),
    Series("Routed reads per second", [
        Q(f"max(rate(pg_replica_routed_reads_total{{{S}}}[$__rate_interval]))",
          "$server"),
        Q(f"sum(max by (server) (rate(pg_replica_routed_reads_total{{{C}}}"
          f"[$__rate_interval])))", "whole cluster")],
           doc="Synthetic reads routed to this server next to all routed "
           "reads.",
           scenarios=(HEALTHY,), unit="reqps", w=8, h=7),
    States("Read rotation and synthetic check", [
        Q(f"max(pg_replica_healthy{{{S}}})", "in rotation"),
        Q(f"max(pg_replica_synthetic_check_success{{{S}}})", "synthetic check")],
           doc="Read rotation membership and the result of the last synthetic "
           "read.",
           scenarios=(HEALTHY,), mappings=YES_NO, w=8, h=7),
    Series(f"Synthetic check duration and rotation changes ({CHANGES_WINDOW})", [
        Q(f"max(pg_replica_synthetic_check_duration_seconds{{{S}}})",
          "synthetic check duration"),
        Q(f"max(increase(pg_replica_rotation_changes_total{{{S}}}[{CHANGES_WINDOW}]))",
          f"rotation changes ({CHANGES_WINDOW})")],
           doc="Duration of the last synthetic read (left axis, seconds) and "
           "rotation changes in the last "
           f"{T['window.dashboard_changes'].format('words')} (right axis).",
           scenarios=(HEALTHY,), unit="s",
           overrides=[override(f"rotation changes ({CHANGES_WINDOW})",
                               ("unit", "short"), ("decimals", 0),
                               ("custom.axisPlacement", "right"),
                               ("custom.drawStyle", "bars"))],
           w=8, h=7),
]

DETAIL_SLOTS = [
    Row("Replication slots on $server"),
    Series("WAL retained by slots", [
        Q(f"max by (slot) (pg_replica_slot_retained_wal_bytes{{{S}}})",
          "{{slot}} retained"),
        Q(f"max by (slot) (pg_replica_slot_safe_wal_size_bytes{{{S}}})",
          "{{slot}} safe size left")],
           doc="WAL each slot holds back, and (with max_slot_wal_keep_size) "
           "how much more can be written before the slot is lost. Dashed "
           f"line: the {SLOT_LIMIT} threshold of "
           "PgReplicationSlotRetainedWalHigh.",
           scenarios=(HEALTHY, SLOT_INACTIVE), unit="bytes",
           thresholds=SLOT_STEPS, threshold_lines=True, h=7),
    States("Slot active", [Q(f"max by (slot) (pg_replica_slot_active{{{S}}})",
                             "{{slot}}")],
           doc="Whether each replication slot has a consumer.",
           scenarios=(HEALTHY, SLOT_INACTIVE), mappings=ACTIVE_MAP, h=7),
]

DETAIL_POLLING = [
    Row("Polling"),
    Series("Poll duration", [Q(f"max(pg_replica_poll_duration_seconds{{{S}}})",
                               "poll duration")],
           doc="Duration of the last poll.", scenarios=(HEALTHY,), unit="s",
           w=8, h=7),
    Series("Poll errors and last poll age", [
        Q(f"max(increase(pg_replica_poll_errors_total{{{S}}}[{POLL_ERRORS_WINDOW}]))",
          f"failed polls ({POLL_ERRORS_WINDOW})"),
        Q(f"time() - max(pg_replica_last_poll_success_timestamp_seconds{{{S}}})",
          "seconds since the last successful poll")],
           doc=f"Failed polls in the last "
           f"{T['window.poll_errors'].format('words')} and the age of the last "
           f"successful poll.",
           scenarios=(HEALTHY, REPLICA_STOPPED),
           overrides=[override("seconds since the last successful poll",
                               ("unit", "s"), ("custom.axisPlacement", "right"))],
           w=8, h=7),
    States("Collectors", [
        Q(f"min by (collector) (pg_replica_collector_success{{{S}}})",
          "{{collector}}")],
           doc="Whether each collector succeeded in the last poll.",
           scenarios=(HEALTHY,), mappings=OK_MAP, w=8, h=7),
]

DETAIL_PGBOUNCER = [
    Row("PgBouncer pools fronting $server"),
    Series("Pool utilization (sv_active / pool_size)", [
        Q(per_pool("pg_replica_pgbouncer_pool_utilization_ratio", S),
          POOL_LEGEND)],
           doc=f"The pools of the pgbouncers configured with server: $server "
           f"(pgbouncers), server connections linked to a client over "
           f"pool_size. Dashed lines: {POOL_WARN} and {POOL_CRIT} "
           f"(PgBouncerPoolUtilizationHigh / Critical). Empty when no "
           f"pgbouncer fronts this server.",
           scenarios=(PGBOUNCER,), unit="percentunit", thresholds=CONN_STEPS,
           threshold_lines=True, max=1, h=7),
    Series("Clients waiting and maxwait", [
        Q(per_pool("pg_replica_pgbouncer_pool_client_waiting_connections", S),
          POOL_LEGEND + " waiting"),
        Q(per_pool("pg_replica_pgbouncer_pool_maxwait_seconds", S),
          POOL_LEGEND + " maxwait")],
           doc=f"Clients waiting for a server connection (left axis) and how "
           f"long the oldest has waited (right axis, seconds; "
           f"PgBouncerClientsWaiting over {MAXWAIT}).",
           scenarios=(PGBOUNCER,), decimals=0,
           overrides=[override(".* maxwait", ("unit", "s"), ("decimals", 1),
                               ("custom.axisPlacement", "right"),
                               regex=True)],
           h=7),
]

SERVER_DETAIL = Dashboard(
    uid="pg-replica-server", title="PostgreSQL replicas: server detail",
    doc="pg_replica_exporter: one server of a cluster in detail.",
    variables=[CLUSTER_VARIABLE, server_variable(multi=False)],
    annotations=[ALERTS_ANNOTATION],
    specs=(DETAIL_STATUS + DETAIL_REPLICATION + DETAIL_CONNECTIONS
           + DETAIL_ROUTING + DETAIL_SLOTS + DETAIL_PGBOUNCER
           + DETAIL_POLLING),
    tags=TAGS, links=DASHBOARD_LINKS)

DASHBOARDS = {
    "pg-replica-overview.json": OVERVIEW,
    "pg-replica-server.json": SERVER_DETAIL,
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def render(dashboard):
    return json.dumps(dashboard.render(), indent=2, ensure_ascii=False) + "\n"


def write_or_check(out_dir, check):
    stale = []
    for name, dashboard in DASHBOARDS.items():
        path = os.path.join(out_dir, name)
        content = render(dashboard)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != content:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
            print(f"wrote {path}")
    if stale:
        print("out of date (run python3 dashboards/generate.py): "
              + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a JSON file differs from the output")
    parser.add_argument("--queries", action="store_true",
                        help="print every query with its scenarios as JSON")
    parser.add_argument("--out-dir", default=HERE)
    args = parser.parse_args()
    if args.queries:
        proofs = [p for d in DASHBOARDS.values() for p in d.proofs()]
        json.dump(proofs, sys.stdout, indent=1)
        print()
        return 0
    return write_or_check(args.out_dir, args.check)


if __name__ == "__main__":
    sys.exit(main())
