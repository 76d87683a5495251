#!/usr/bin/env python3
"""Generates the Grafana dashboards of pg_replica_exporter.

The JSON files next to this script are its output and are committed; edit
this script, not the JSON, then run

    python3 dashboards/generate.py          # rewrite the JSON files
    python3 dashboards/generate.py --check  # exit 1 if a file is out of date

(`ctest -R dashboards` runs the check and tests/dashboards/check_dashboards.py.)

The dashboards target Grafana 9 and 10 (schemaVersion 37; Grafana 10
migrates it on load). Every query goes through the `datasource` variable,
whose initial value is the `${DS_PROMETHEUS}` import input: "Import" asks for
the Prometheus datasource, and a provisioned copy falls back to the default
Prometheus datasource. See docs/dashboards.md.

Python 3 standard library only.
"""

import argparse
import json
import os
import sys

SCHEMA_VERSION = 37
DS = {"type": "prometheus", "uid": "${datasource}"}
TAGS = ["postgresql", "replication", "pg_replica_exporter"]

# Thresholds of the seed document and of rules/pg_replica_exporter.rules.yml.
LAG_TARGET_S = 1  # replication lag target: under 1 s
LAG_ALERT_S = 5  # PgReplicaLagHigh
CONN_WARN = 0.8  # PgConnectionUtilizationHigh
CONN_CRIT = 0.9  # PgConnectionUtilizationCritical
POLL_STALE_S = 120  # PgReplicaPollStale
SLOT_RETAINED_BYTES = 10737418240  # PgReplicationSlotRetainedWalHigh (10 GiB)

# Label matchers used by every query.
C = 'cluster="$cluster"'
CS = 'cluster="$cluster", server=~"$server"'


# ---------------------------------------------------------------------------
# Panel builders
# ---------------------------------------------------------------------------


def target(expr, legend="", ref="A", instant=False, fmt=None):
    t = {"datasource": DS, "expr": expr, "refId": ref}
    if legend:
        t["legendFormat"] = legend
    if instant:
        t["instant"] = True
        t["range"] = False
    else:
        t["range"] = True
    if fmt:
        t["format"] = fmt
    return t


def targets(*specs, instant=False, fmt=None):
    """specs: (expr, legend) pairs; refIds A, B, C, ..."""
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant, fmt=fmt)
        for i, (expr, legend) in enumerate(specs)
    ]


def steps(*pairs):
    """pairs: ("green", None), ("yellow", 1), ... -> threshold steps."""
    return {
        "mode": "absolute",
        "steps": [{"color": c, "value": v} for c, v in pairs],
    }


def value_map(*entries):
    """entries: (value, text, color) -> a Grafana value mapping."""
    return [
        {
            "type": "value",
            "options": {
                str(v): {"text": text, "color": color, "index": i}
                for i, (v, text, color) in enumerate(entries)
            },
        }
    ]


UP_MAP = value_map((0, "DOWN", "red"), (1, "UP", "green"))
YES_NO_BAD = value_map((0, "no", "green"), (1, "YES", "red"))
ROTATION_MAP = value_map((0, "out", "red"), (1, "in rotation", "green"))
STREAMING_MAP = value_map((0, "not streaming", "red"), (1, "streaming", "green"))
OK_MAP = value_map((0, "failed", "red"), (1, "ok", "green"))
ACTIVE_MAP = value_map((0, "inactive", "orange"), (1, "active", "green"))
CONNECTED_MAP = value_map((0, "not connected", "red"), (1, "connected", "green"))
ROLE_MAP = value_map((0, "primary", "blue"), (1, "replica", "purple"))
RECOVERY_MAP = value_map((0, "primary", "blue"), (1, "standby", "purple"))
PAUSED_MAP = value_map((0, "replaying", "green"), (1, "PAUSED", "orange"))

LAG_STEPS = steps(("green", None), ("yellow", LAG_TARGET_S), ("red", LAG_ALERT_S))
CONN_STEPS = steps(("green", None), ("orange", CONN_WARN), ("red", CONN_CRIT))


def panel(kind, title, tgts, description="", unit=None, thresholds=None,
          mappings=None, custom=None, options=None, overrides=None,
          min_value=None, max_value=None, decimals=None, color=None,
          no_value=None, **extra):
    defaults = {}
    if unit:
        defaults["unit"] = unit
    if thresholds:
        defaults["thresholds"] = thresholds
    if mappings:
        defaults["mappings"] = mappings
    if custom:
        defaults["custom"] = custom
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    if decimals is not None:
        defaults["decimals"] = decimals
    if color:
        defaults["color"] = color
    if no_value is not None:
        defaults["noValue"] = no_value
    p = {
        "type": kind,
        "title": title,
        "datasource": DS,
        "targets": tgts,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if description:
        p["description"] = description
    p.update(extra)
    return p


def stat(title, tgts, description="", unit=None, thresholds=None,
         mappings=None, color_mode="background", graph=False, **kw):
    return panel(
        "stat", title, tgts, description, unit=unit,
        thresholds=thresholds or steps(("green", None)),
        mappings=mappings, color={"mode": "thresholds"},
        options={
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                              "values": False},
            "colorMode": color_mode,
            "graphMode": "area" if graph else "none",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        },
        **kw)


def timeseries(title, tgts, description="", unit=None, thresholds=None,
               threshold_lines=False, stack=False, bars=False, fill=10,
               min_value=0, legend_calcs=("lastNotNull", "max"), **kw):
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 100 if bars else (30 if stack else fill),
        "gradientMode": "none",
        "showPoints": "never",
        "pointSize": 4,
        # Absent series (a server that cannot be polled) stay gaps, never a
        # line drawn across the outage.
        "spanNulls": False,
        "lineInterpolation": "linear",
        "axisPlacement": "auto",
        "axisLabel": "",
        "scaleDistribution": {"type": "linear"},
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "dashed" if threshold_lines else "off"},
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
    }
    return panel(
        "timeseries", title, tgts, description, unit=unit,
        thresholds=thresholds or steps(("green", None)), custom=custom,
        min_value=min_value, color={"mode": "palette-classic"},
        options={
            "legend": {"displayMode": "table", "placement": "bottom",
                       "showLegend": True, "calcs": list(legend_calcs)},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        **kw)


def state_timeline(title, tgts, mappings, description="", **kw):
    return panel(
        "state-timeline", title, tgts, description, mappings=mappings,
        thresholds=steps(("green", None)), color={"mode": "thresholds"},
        custom={"lineWidth": 0, "fillOpacity": 80,
                "hideFrom": {"legend": False, "tooltip": False, "viz": False}},
        options={"mergeValues": True, "showValue": "auto",
                 "alignValue": "left", "rowHeight": 0.9,
                 "legend": {"displayMode": "list", "placement": "bottom",
                            "showLegend": False},
                 "tooltip": {"mode": "single", "sort": "none"}},
        **kw)


def bargauge(title, tgts, description="", unit=None, thresholds=None,
             min_value=0, max_value=None, **kw):
    return panel(
        "bargauge", title, tgts, description, unit=unit,
        thresholds=thresholds or steps(("green", None)),
        min_value=min_value, max_value=max_value,
        color={"mode": "thresholds"},
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                   "values": False},
                 "orientation": "horizontal", "displayMode": "gradient",
                 "showUnfilled": True, "minVizHeight": 10, "minVizWidth": 0},
        **kw)


def column(name, unit=None, mappings=None, thresholds=None, color_cells=False,
           width=None, links=None):
    """A field override of a table column."""
    props = []
    if unit:
        props.append({"id": "unit", "value": unit})
    if mappings:
        props.append({"id": "mappings", "value": mappings})
    if thresholds:
        props.append({"id": "thresholds", "value": thresholds})
    if color_cells:
        props.append({"id": "custom.displayMode", "value": "color-background"})
        props.append({"id": "color", "value": {"mode": "thresholds"}})
    if width:
        props.append({"id": "custom.width", "value": width})
    if links:
        props.append({"id": "links", "value": links})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


def table(title, tgts, columns, rename, description="", overrides=None,
          sort_by=None, exclude=(), **kw):
    """An instant table of several queries merged on their labels.

    rename: {"Value #A": "Up", ...}; columns: the order of the columns;
    exclude: columns to drop besides Time.
    """
    organize = {
        "excludeByName": {name: True for name in ("Time",) + tuple(exclude)},
        "indexByName": {name: i for i, name in enumerate(columns)},
        "renameByName": rename,
    }
    options = {"showHeader": True, "cellHeight": "sm",
               "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": False}]
    return panel(
        "table", title, tgts, description,
        thresholds=steps(("green", None)),
        custom={"align": "auto", "displayMode": "auto", "inspect": False},
        options=options, overrides=overrides,
        transformations=[{"id": "merge", "options": {}},
                         {"id": "organize", "options": organize}],
        **kw)


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def _newline(self):
        self.y += self.row_h
        self.x = 0
        self.row_h = 0

    def row(self, title):
        if self.x:
            self._newline()
        p = row(title)
        p["id"] = self.next_id
        self.next_id += 1
        p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": self.y}
        self.panels.append(p)
        self.y += 1

    def add(self, p, w, h):
        if self.x + w > 24:
            self._newline()
        p["id"] = self.next_id
        self.next_id += 1
        p["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(p)
        self.x += w
        self.row_h = max(self.row_h, h)


# ---------------------------------------------------------------------------
# Dashboard skeleton
# ---------------------------------------------------------------------------


def query_variable(name, label, query, multi=False, include_all=False,
                   description=""):
    v = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-" + name},
        "refresh": 2,  # on time range change
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "current": {},
        "options": [],
        "hide": 0,
        "regex": "",
        "skipUrlSync": False,
    }
    if description:
        v["description"] = description
    return v


def datasource_variable():
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Datasource",
        "query": "prometheus",
        # Replaced by the datasource chosen on import; a provisioned copy
        # keeps the placeholder and Grafana falls back to the default
        # Prometheus datasource.
        "current": {"selected": False, "text": "Prometheus",
                    "value": "${DS_PROMETHEUS}"},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


def alerts_annotation():
    # PgReplicaExporterDown has no cluster label: `cluster=~"$cluster|"` also
    # matches alerts without one.
    return {
        "datasource": DS,
        "enable": True,
        "hide": False,
        "iconColor": "red",
        "name": "Firing pg_replica alerts",
        "expr": 'ALERTS{alertname=~"Pg.*", alertstate="firing", '
                'cluster=~"$cluster|"}',
        "step": "60s",
        "titleFormat": "{{alertname}}",
        "textFormat": "{{severity}} {{server}}",
        "tagKeys": "severity,server",
        "useValueForTime": False,
    }


def builtin_annotation():
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


def requires(panels):
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    names = {"stat": "Stat", "timeseries": "Time series",
             "state-timeline": "State timeline", "bargauge": "Bar gauge",
             "table": "Table", "text": "Text"}
    return ([{"type": "grafana", "id": "grafana", "name": "Grafana",
              "version": "9.0.0"},
             {"type": "datasource", "id": "prometheus", "name": "Prometheus",
              "version": "1.0.0"}]
            + [{"type": "panel", "id": k, "name": names[k], "version": ""}
               for k in kinds])


def dashboard(uid, title, description, layout, variables, links):
    return {
        "__inputs": [{
            "name": "DS_PROMETHEUS",
            "label": "Prometheus",
            "description": "The Prometheus that scrapes pg_replica_exporter "
                           "(job pg_replica_exporter) and evaluates "
                           "rules/pg_replica_exporter.rules.yml",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }],
        "__elements": {},
        "__requires": requires(layout.panels),
        "annotations": {"list": [builtin_annotation(), alerts_annotation()]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,  # shared crosshair
        "id": None,
        "links": links,
        "liveNow": False,
        "panels": layout.panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "style": "dark",
        "tags": TAGS,
        "templating": {"list": [datasource_variable()] + variables},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def dashboard_links():
    return [{
        "asDropdown": False,
        "icon": "external link",
        "includeVars": True,
        "keepTime": True,
        "tags": ["pg_replica_exporter"],
        "targetBlank": False,
        "title": "pg_replica_exporter",
        "type": "dashboards",
    }]


SERVER_LINK = [{
    "title": "Server detail",
    "url": "/d/pg-replica-server/pg-replica-server?var-datasource=${datasource}"
           "&var-cluster=${cluster}&var-server=${__data.fields.Server}"
           "&${__url_time_range}",
}]
SERIES_SERVER_LINK = [{
    "title": "Server detail: ${__field.labels.server}",
    "url": "/d/pg-replica-server/pg-replica-server?var-datasource=${datasource}"
           "&var-cluster=${cluster}&var-server=${__field.labels.server}"
           "&${__url_time_range}",
}]


# ---------------------------------------------------------------------------
# Shared queries
# ---------------------------------------------------------------------------
#
# Two exporters watching the same cluster publish the same series with
# different instance labels: like the rules, every query dedupes with
# max by (server, ...) so that nothing is counted twice.


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


# ---------------------------------------------------------------------------
# Overview
# ---------------------------------------------------------------------------


def overview():
    L = Layout()

    L.row("Cluster $cluster")
    L.add(stat("Primary", targets(
        (f'max(pg_replica_up{{{C}}} and on (server) '
         f'(pg_replica_is_primary{{{C}}} == 1))', "")),
        "Whether the exporter can poll the primary: the server observed out "
        "of recovery (pg_replica_is_primary), the configured one until a "
        "failover. Alert: PgPrimaryDown.",
        mappings=UP_MAP, thresholds=steps(("red", None), ("green", 1))), 3, 4)
    L.add(stat("Replicas up", targets(
        (f'sum(max by (server) (pg_replica_up{{{C}}} unless on (server) '
         f'(pg_replica_is_primary{{{C}}} == 1)))', "up"),
        (f'count(max by (server) (pg_replica_up{{{C}}} unless on (server) '
         f'(pg_replica_is_primary{{{C}}} == 1)))', "configured")),
        "Servers other than the primary that the exporter can poll, and how "
        "many there are. Alert: PgReplicaDown.", color_mode="value",
        decimals=0), 3, 4)
    L.add(stat("Replicas in rotation", targets(
        (f"sum(max by (server) (pg_replica_healthy{{{C}}}))", "in rotation")),
        "Replicas the routing model sends reads to (pg_replica_healthy): "
        "up, passing health checks and under routing.max_lag. "
        "Alert: PgReplicaOutOfRotation.",
        thresholds=steps(("red", None), ("green", 1)), decimals=0,
        no_value="routing not started"), 3, 4)
    L.add(stat("Read failover", targets(
        (f"max(pg_replica_read_failover_active{{{C}}})", "")),
        "YES while no replica is in rotation and reads go to the primary. "
        "Alert: PgReadFailoverActive.",
        mappings=YES_NO_BAD, thresholds=steps(("green", None), ("red", 1)),
        no_value="routing not started"), 3, 4)
    L.add(stat("Primaries observed", targets(
        (f"pg_replica:primaries:count{{{C}}}", "")),
        "Servers out of recovery (recording rule pg_replica:primaries:count; "
        "needs rules/pg_replica_exporter.rules.yml loaded). Exactly 1 is "
        "healthy: 0 = nothing accepts writes, 2+ = split brain. "
        "Alert: PgClusterPrimaryCount.",
        thresholds=steps(("red", None), ("green", 1), ("red", 2)), decimals=0),
        3, 4)
    L.add(stat("Max replica lag", targets(
        (f"max(pg_replica_lag_seconds{{{C}}})", "")),
        f"Largest replication lag of the cluster's replicas, on the agent's "
        f"clock. Target under {LAG_TARGET_S} s; PgReplicaLagHigh fires over "
        f"{LAG_ALERT_S} s.", unit="s", thresholds=LAG_STEPS, graph=True), 3, 4)
    L.add(stat("Max connection utilization", targets(
        (f"max({utilization(C)})", "")),
        f"Highest connection utilization of the cluster's servers: client "
        f"backends / (max_connections - superuser_reserved_connections). "
        f"Warning over {CONN_WARN:.0%}, critical over {CONN_CRIT:.0%}.",
        unit="percentunit", thresholds=CONN_STEPS, graph=True), 3, 4)
    L.add(stat("Firing alerts", targets(
        ('count(ALERTS{alertname=~"Pg.*", alertstate="firing", '
         'cluster=~"$cluster|"}) or vector(0)', "")),
        "pg_replica alerts firing now for this cluster (and "
        "PgReplicaExporterDown, which has no cluster label). They are also "
        "drawn as annotations on every graph.",
        thresholds=steps(("green", None), ("red", 1)), decimals=0), 3, 4)

    L.add(table("Servers", targets(
        (role_query(C), ""),
        (f"max by (server) (pg_replica_up{{{C}}})", ""),
        (f"max by (server) (pg_replica_in_recovery{{{C}}})", ""),
        (f"max by (server) (pg_replica_healthy{{{C}}})", ""),
        (f"max by (server) (pg_replica_lag_seconds{{{C}}})", ""),
        (f"max by (server) (pg_replica_lag_bytes{{{C}}})", ""),
        (f"max by (server) (pg_replica_wal_receiver_streaming{{{C}}})", ""),
        (f"max by (server) (pg_replica_standby_connected{{{C}}})", ""),
        (utilization(C), ""),
        (f"max by (server) (pg_replica_timeline_id{{{C}}})", ""),
        instant=True, fmt="table"),
        columns=["server", "Value #A", "Value #B", "Value #C", "Value #D",
                 "Value #E", "Value #F", "Value #G", "Value #H", "Value #I",
                 "Value #J"],
        rename={"server": "Server", "Value #A": "Role", "Value #B": "Up",
                "Value #C": "Observed", "Value #D": "Read rotation",
                "Value #E": "Lag", "Value #F": "Lag bytes",
                "Value #G": "WAL receiver",
                "Value #H": "In pg_stat_replication",
                "Value #I": "Connections used", "Value #J": "Timeline"},
        description="One row per configured server. Empty cells are series "
        "the exporter does not publish for that server: lag, WAL receiver "
        "and pg_stat_replication columns exist for replicas only, and every "
        "column but Role and Up is empty while a server cannot be polled "
        "(lag is never shown as 0 then). Click a server for its detail "
        "dashboard.",
        sort_by="Server",
        overrides=[
            column("Server", links=SERVER_LINK),
            column("Role", mappings=ROLE_MAP),
            column("Up", mappings=UP_MAP, color_cells=True,
                   thresholds=steps(("red", None), ("green", 1))),
            column("Observed", mappings=RECOVERY_MAP),
            column("Read rotation", mappings=ROTATION_MAP, color_cells=True,
                   thresholds=steps(("red", None), ("green", 1))),
            column("Lag", unit="s", thresholds=LAG_STEPS, color_cells=True),
            column("Lag bytes", unit="bytes"),
            column("WAL receiver", mappings=STREAMING_MAP, color_cells=True,
                   thresholds=steps(("red", None), ("green", 1))),
            column("In pg_stat_replication", mappings=CONNECTED_MAP,
                   color_cells=True,
                   thresholds=steps(("red", None), ("green", 1))),
            column("Connections used", unit="percentunit",
                   thresholds=CONN_STEPS, color_cells=True),
        ]), 24, 7)

    L.row("Replication lag")
    L.add(timeseries("Replication lag (seconds)", targets(
        (f"max by (server) (pg_replica_lag_seconds{{{CS}}})", "{{server}}")),
        f"pg_replica_lag_seconds: time since the primary first passed the "
        f"replica's replay position, measured on the agent's monotonic clock "
        f"(0 when the replica has replayed everything, also while the primary "
        f"is idle). Dashed lines: the {LAG_TARGET_S} s target and the "
        f"{LAG_ALERT_S} s alert threshold (PgReplicaLagHigh). A gap means the "
        f"replica could not be polled: lag is unknown, not 0.",
        unit="s", thresholds=LAG_STEPS, threshold_lines=True,
        links=SERIES_SERVER_LINK), 12, 8)
    L.add(timeseries("Replication lag (bytes)", targets(
        (f"max by (server) (pg_replica_lag_bytes{{{CS}}})", "{{server}}")),
        "pg_replica_lag_bytes: the primary's current WAL position minus the "
        "replica's replay position.", unit="bytes"), 12, 8)
    L.add(state_timeline("WAL receiver", targets(
        (f"max by (server) (pg_replica_wal_receiver_streaming{{{CS}}})",
         "{{server}}")),
        STREAMING_MAP,
        "pg_replica_wal_receiver_streaming: whether the replica's WAL "
        "receiver is streaming from the primary. Alert: "
        "PgReplicaNotStreaming."), 12, 6)
    L.add(state_timeline("Replica in primary's pg_stat_replication",
        targets((f"max by (server) (pg_replica_standby_connected{{{CS}}})",
                 "{{server}}")),
        CONNECTED_MAP,
        "pg_replica_standby_connected: whether the primary's "
        "pg_stat_replication has a row with the replica's application_name."),
        12, 6)
    L.add(timeseries("Lag reported by the primary (replay_lag)", targets(
        (f'max by (standby) (pg_replica_stat_replication_lag_seconds{{{C}, '
         f'kind="replay"}})', "{{standby}}")),
        "pg_stat_replication.replay_lag as the primary reports it, per "
        "standby application_name, for comparison with the agent's own "
        "measurement. PostgreSQL computes it only while WAL is flowing; "
        "the series is absent when the server reports NULL for a standby "
        "that is not caught up.", unit="s", thresholds=LAG_STEPS,
        threshold_lines=True), 12, 7)
    L.add(state_timeline("WAL replay", targets(
        (f"max by (server) (pg_replica_replay_paused{{{CS}}})", "{{server}}")),
        PAUSED_MAP,
        "pg_replica_replay_paused: PAUSED while WAL replay is paused on the "
        "replica (pg_wal_replay_pause()); its lag grows."), 12, 7)

    L.row("Connections")
    L.add(timeseries("Connection utilization", targets(
        (utilization(CS), "{{server}}")),
        f"Client backends (every pg_stat_activity state, the agent's own "
        f"connections excluded) / (max_connections - "
        f"superuser_reserved_connections), per server. Dashed lines: "
        f"{CONN_WARN:.0%} (PgConnectionUtilizationHigh) and {CONN_CRIT:.0%} "
        f"(PgConnectionUtilizationCritical).",
        unit="percentunit", thresholds=CONN_STEPS, threshold_lines=True,
        max_value=1, links=SERIES_SERVER_LINK), 12, 8)
    L.add(bargauge("Connection utilization now", targets(
        (utilization(CS), "{{server}}")),
        "Current utilization per server.", unit="percentunit",
        thresholds=CONN_STEPS, max_value=1), 12, 8)
    L.add(timeseries("Connections by state: $server", targets(
        (f'max by (state) (pg_replica_connections{{cluster="$cluster", '
         f'server=~"$server"}})', "{{state}}"),
        (f'max(pg_replica_max_connections{{cluster="$cluster", server=~"$server"}}'
         f' - pg_replica_superuser_reserved_connections{{cluster="$cluster", '
         f'server=~"$server"}})', "usable (max - reserved)")),
        "pg_replica_connections by pg_stat_activity state, stacked, with the "
        "usable connections as a line. One panel per selected server.",
        stack=True, decimals=0,
        overrides=[{"matcher": {"id": "byName",
                                "options": "usable (max - reserved)"},
                    "properties": [
                        {"id": "custom.stacking",
                         "value": {"mode": "none", "group": "A"}},
                        {"id": "custom.fillOpacity", "value": 0},
                        {"id": "custom.lineStyle",
                         "value": {"fill": "dash", "dash": [10, 10]}},
                        {"id": "color",
                         "value": {"mode": "fixed", "fixedColor": "red"}}]}],
        repeat="server", repeatDirection="h", maxPerRow=4), 8, 8)

    L.row("Read routing")
    L.add(timeseries("Routed reads per second", targets(
        (f"max by (server) (rate(pg_replica_routed_reads_total{{{CS}}}[5m]))",
         "{{server}}")),
        "rate(pg_replica_routed_reads_total[5m]): synthetic reads the routing "
        "model sent to each server. With every replica in rotation the "
        "round-robin gives each replica a share proportional to its weight "
        "and the primary none; reads on the primary mean failover.",
        unit="reqps", stack=True), 12, 8)
    L.add(bargauge("Share of routed reads (dashboard range)", targets(
        (f"max by (server) (increase(pg_replica_routed_reads_total{{{CS}}}[$__range]))\n"
         f"/ scalar(sum(max by (server) (increase(pg_replica_routed_reads_total"
         f"{{{CS}}}[$__range]))))", "{{server}}"), instant=True),
        "Each server's share of the routed reads over the dashboard's time "
        "range: equal shares (for equal weights) show the round-robin "
        "distribution.", unit="percentunit", max_value=1,
        thresholds=steps(("blue", None))), 12, 8)
    L.add(state_timeline("Read rotation", targets(
        (f"max by (server) (pg_replica_healthy{{{CS}}})", "{{server}}"),
        (f"max(pg_replica_read_failover_active{{{C}}}) + 2", "read failover")),
        value_map((0, "out", "red"), (1, "in rotation", "green"),
                  (2, "replicas serve reads", "green"),
                  (3, "reads on primary", "red")),
        "Which replicas are in the read rotation (pg_replica_healthy), and "
        "(last row) whether reads fail over to the primary because no "
        "replica is in rotation (pg_replica_read_failover_active)."), 12, 7)
    L.add(timeseries("Rotation changes", targets(
        (f"max by (server) (increase(pg_replica_rotation_changes_total{{{CS}}}[5m]))",
         "{{server}}")),
        "Times a replica entered or left the read rotation in the last 5 "
        "minutes (pg_replica_rotation_changes_total). Steady non-zero values "
        "mean flapping: compare with lag and health checks.",
        decimals=0, bars=True), 12, 7)
    L.add(state_timeline("Synthetic check", targets(
        (f"max by (server) (pg_replica_synthetic_check_success{{{CS}}})",
         "{{server}}")),
        OK_MAP,
        "pg_replica_synthetic_check_success: whether the last synthetic read "
        "(routing.probe_query) routed to the server succeeded."), 12, 7)
    L.add(timeseries("Synthetic check duration", targets(
        (f"max by (server) (pg_replica_synthetic_check_duration_seconds{{{CS}}})",
         "{{server}}")),
        "Duration of the last synthetic read on each server.", unit="s"),
        12, 7)

    L.row("Replication slots")
    L.add(state_timeline("Slot active", targets(
        (f"max by (server, slot) (pg_replica_slot_active{{{CS}}})",
         "{{server}} {{slot}}")),
        ACTIVE_MAP,
        "pg_replica_slot_active per replication slot. An inactive slot keeps "
        "WAL on its server: alert PgReplicationSlotInactive after 10 "
        "minutes."), 12, 7)
    L.add(timeseries("WAL retained by slots", targets(
        (f"max by (server, slot) (pg_replica_slot_retained_wal_bytes{{{CS}}})",
         "{{server}} {{slot}}")),
        "pg_replica_slot_retained_wal_bytes: WAL each slot holds back. "
        "Dashed line: the 10 GiB threshold of "
        "PgReplicationSlotRetainedWalHigh.", unit="bytes",
        thresholds=steps(("green", None), ("red", SLOT_RETAINED_BYTES)),
        threshold_lines=True), 12, 7)
    L.add(table("Slot WAL status", targets(
        (f"max by (server, slot, wal_status) (pg_replica_slot_wal_status{{{CS}}}) == 1",
         "")
        , instant=True, fmt="table"),
        columns=["server", "slot", "wal_status"],
        rename={"server": "Server", "slot": "Slot", "wal_status": "wal_status"},
        description="The wal_status of each slot: reserved and extended are "
        "fine; unreserved means WAL the consumer needs goes at the next "
        "checkpoint, lost means it is gone (PgReplicationSlotWalLost).",
        exclude=("Value",), sort_by="Server"), 24, 5)

    L.row("Exporter and polling")
    L.add(timeseries("Last successful poll age", targets(
        (f"time() - max by (server) (pg_replica_last_poll_success_timestamp_seconds{{{CS}}})",
         "{{server}}")),
        f"Seconds since each server's last successful poll. It grows while a "
        f"server is down; over {POLL_STALE_S} s while the server is reported "
        f"up means a stuck poll loop (PgReplicaPollStale).",
        unit="s", thresholds=steps(("green", None), ("red", POLL_STALE_S)),
        threshold_lines=True), 8, 7)
    L.add(timeseries("Poll errors", targets(
        (f"max by (server) (increase(pg_replica_poll_errors_total{{{CS}}}[5m]))",
         "{{server}}")),
        "Failed polls in the last 5 minutes (connect errors, timeouts, "
        "broken connections). Alert: PgReplicaPollFailing.", decimals=0),
        8, 7)
    L.add(timeseries("Poll duration", targets(
        (f"max by (server) (pg_replica_poll_duration_seconds{{{CS}}})",
         "{{server}}")),
        "Duration of the last poll of each server (one pipelined round trip; "
        "bounded by query_timeout).", unit="s"), 8, 7)
    L.add(state_timeline("Collectors", targets(
        (f"min by (server, collector) (pg_replica_collector_success{{{CS}}})",
         "{{server}} {{collector}}")),
        OK_MAP,
        "pg_replica_collector_success per server and collector. A failing "
        "collector on a reachable server usually means a missing pg_monitor "
        "grant (PgReplicaCollectorFailing)."), 16, 8)
    L.add(table("Exporters", targets(
        ('max by (instance) (up{job="pg_replica_exporter"})', ""),
        ("max by (instance, version, revision) "
         "(pg_replica_exporter_build_info)", ""),
        ("max by (instance) "
         "(pg_replica_exporter_config_last_reload_successful)", ""),
        ("max by (instance) "
         "(pg_replica_exporter_config_last_reload_success_timestamp_seconds)"
         " * 1000", ""),
        instant=True, fmt="table"),
        columns=["instance", "version", "revision", "Value #A", "Value #C",
                 "Value #D"],
        rename={"instance": "Instance", "version": "Version",
                "revision": "Revision", "Value #A": "Scraped",
                "Value #C": "Config reload", "Value #D": "Config loaded"},
        exclude=("Value #B",),
        description="Every pg_replica_exporter target of the scrape job "
        "pg_replica_exporter: whether Prometheus can scrape it (alert "
        "PgReplicaExporterDown), its version "
        "(pg_replica_exporter_build_info), whether the last configuration "
        "reload (SIGHUP, systemctl reload) succeeded, and when the running "
        "configuration was loaded.",
        overrides=[column("Scraped", mappings=UP_MAP, color_cells=True,
                          thresholds=steps(("red", None), ("green", 1))),
                   column("Config reload",
                          mappings=value_map((0, "FAILED", "red"),
                                             (1, "ok", "green")),
                          color_cells=True,
                          thresholds=steps(("red", None), ("green", 1))),
                   column("Config loaded", unit="dateTimeFromNow")]),
        8, 8)

    return dashboard(
        "pg-replica-overview", "PostgreSQL replicas: overview",
        "pg_replica_exporter: a PostgreSQL primary and its streaming read "
        "replicas: availability, replication lag, connections, read routing, "
        "replication slots and the exporter's own polling.",
        L,
        [query_variable("cluster", "Cluster",
                        "label_values(pg_replica_up, cluster)",
                        description="The cluster label of the exporter "
                        "(config key cluster, or PGRE_CLUSTER)."),
         query_variable("server", "Server",
                        'label_values(pg_replica_up{cluster="$cluster"}, server)',
                        multi=True, include_all=True,
                        description="Servers shown in the per-server graphs.")],
        dashboard_links())


# ---------------------------------------------------------------------------
# Server detail
# ---------------------------------------------------------------------------


def server_detail():
    L = Layout()
    S = 'cluster="$cluster", server="$server"'

    L.row("$server")
    L.add(stat("Up", targets((f"max(pg_replica_up{{{S}}})", "")),
               "Whether the last poll of the server succeeded.",
               mappings=UP_MAP, thresholds=steps(("red", None), ("green", 1))),
          3, 4)
    L.add(stat("Configured role", targets(
        (f'max(pg_replica_up{{{S}, role="replica"}} * 0 + 1 or '
         f'pg_replica_up{{{S}, role="primary"}} * 0)', "")),
        "The role the server has in the exporter's configuration.",
        mappings=ROLE_MAP, color_mode="value"), 3, 4)
    L.add(stat("Observed role", targets(
        (f"max(pg_replica_in_recovery{{{S}}})", "")),
        "pg_replica_in_recovery: standby while the server is in recovery. A "
        "configured replica observed as primary has been promoted.",
        mappings=RECOVERY_MAP, color_mode="value",
        no_value="not polled"), 3, 4)
    L.add(stat("Read rotation", targets(
        (f"max(pg_replica_healthy{{{S}}})", "")),
        "pg_replica_healthy: whether the routing model sends reads to this "
        "replica.", mappings=ROTATION_MAP,
        thresholds=steps(("red", None), ("green", 1)), no_value="–"), 3, 4)
    L.add(stat("Lag", targets((f"max(pg_replica_lag_seconds{{{S}}})", "")),
               f"Replication lag on the agent's clock; target under "
               f"{LAG_TARGET_S} s, alert over {LAG_ALERT_S} s.",
               unit="s", thresholds=LAG_STEPS, graph=True, no_value="–"), 3, 4)
    L.add(stat("Lag bytes", targets((f"max(pg_replica_lag_bytes{{{S}}})", "")),
               "WAL the replica has not replayed yet.", unit="bytes",
               color_mode="value", graph=True, no_value="–"), 3, 4)
    L.add(stat("Connections used", targets((f"max({utilization(S)})", "")),
               "Client backends / (max_connections - "
               "superuser_reserved_connections).", unit="percentunit",
               thresholds=CONN_STEPS, graph=True), 3, 4)
    L.add(stat("Timeline", targets((f"max(pg_replica_timeline_id{{{S}}})", "")),
               "The server's timeline; it changes with a promotion.",
               color_mode="value", decimals=0), 3, 4)

    L.row("Replication")
    L.add(timeseries("Lag: agent vs primary's pg_stat_replication", targets(
        (f"max(pg_replica_lag_seconds{{{S}}})", "agent (pg_replica_lag_seconds)"),
        (f'max by (kind) (pg_replica_stat_replication_lag_seconds{{{C}, '
         f'standby="$server"}})', "primary: {{kind}}_lag")),
        f"The agent's lag measurement next to the write/flush/replay lag the "
        f"primary reports for the standby whose application_name is the "
        f"server name (if the replica uses another application_name, the "
        f"primary's series are not shown). Dashed lines: {LAG_TARGET_S} s "
        f"target, {LAG_ALERT_S} s alert.",
        unit="s", thresholds=LAG_STEPS, threshold_lines=True), 12, 8)
    L.add(timeseries("Lag (bytes)", targets(
        (f"max(pg_replica_lag_bytes{{{S}}})", "replay lag")),
        "Primary's WAL position minus this replica's replay position.",
        unit="bytes"), 12, 8)
    L.add(timeseries("WAL throughput", targets(
        (f"max by (server) (clamp_min(deriv(pg_replica_wal_lsn_bytes{{{C}}}[5m]), 0))",
         "{{server}} writes"),
        (f"max(clamp_min(deriv(pg_replica_wal_receive_lsn_bytes{{{S}}}[5m]), 0))",
         "$server receives"),
        (f"max(clamp_min(deriv(pg_replica_wal_replay_lsn_bytes{{{S}}}[5m]), 0))",
         "$server replays")),
        "How fast the primary writes WAL and this replica receives and "
        "replays it (slope of the LSN positions over 5 minutes). Replay "
        "slower than writes for long means growing lag.", unit="Bps"), 12, 8)
    L.add(state_timeline("Replication state", targets(
        (f"max(pg_replica_wal_receiver_streaming{{{S}}})", "WAL receiver streaming"),
        (f"max(pg_replica_standby_connected{{{S}}})", "in primary's pg_stat_replication"),
        (f"1 - max(pg_replica_replay_paused{{{S}}})", "replay running")),
        value_map((0, "no", "red"), (1, "yes", "green")),
        "Whether the WAL receiver streams, whether the primary lists the "
        "replica in pg_stat_replication, and whether replay runs (not "
        "paused)."), 12, 8)
    L.add(timeseries("Age of the last message / replayed transaction", targets(
        (f"time() - max(pg_replica_wal_receiver_last_message_receipt_timestamp_seconds{{{S}}})",
         "since the WAL receiver last heard from its sender"),
        (f"time() - max(pg_replica_last_replay_timestamp_seconds{{{S}}})",
         "since the last replayed commit")),
        "Informational, not lag: both use the standby's/primary's clock, so "
        "clock skew shifts them, and the replayed-commit age grows while "
        "the primary is idle (which is why the agent measures lag itself).",
        unit="s"), 12, 8)
    L.add(table("pg_stat_replication row", targets(
        (f'max by (server, standby, client_addr, state, sync_state) '
         f'(pg_replica_stat_replication_info{{{C}, standby="$server"}})', ""),
        instant=True, fmt="table"),
        columns=["server", "standby", "client_addr", "state", "sync_state"],
        rename={"server": "Reported by", "standby": "Standby",
                "client_addr": "Client address", "state": "State",
                "sync_state": "Sync state"},
        description="The primary's pg_stat_replication row for this replica "
        "(application_name = server name).", exclude=("Value",)),
        12, 8)

    L.row("Connections")
    L.add(timeseries("Connections by state", targets(
        (f"max by (state) (pg_replica_connections{{{S}}})", "{{state}}"),
        (f"max(pg_replica_max_connections{{{S}}} - "
         f"pg_replica_superuser_reserved_connections{{{S}}})",
         "usable (max - reserved)"),
        (f"max(pg_replica_max_connections{{{S}}})", "max_connections")),
        "Client backends by pg_stat_activity state (stacked), usable and "
        "maximum connections as lines.", stack=True, decimals=0,
        overrides=[{"matcher": {"id": "byRegexp",
                                "options": "usable.*|max_connections"},
                    "properties": [
                        {"id": "custom.stacking",
                         "value": {"mode": "none", "group": "A"}},
                        {"id": "custom.fillOpacity", "value": 0},
                        {"id": "custom.lineStyle",
                         "value": {"fill": "dash", "dash": [10, 10]}}]}]),
        12, 8)
    L.add(timeseries("Connection utilization", targets(
        (utilization(S), "{{server}}")),
        f"Dashed lines: {CONN_WARN:.0%} warning, {CONN_CRIT:.0%} critical.",
        unit="percentunit", thresholds=CONN_STEPS, threshold_lines=True,
        max_value=1), 12, 8)

    L.row("Read routing and synthetic checks")
    L.add(timeseries("Routed reads per second", targets(
        (f"max(rate(pg_replica_routed_reads_total{{{S}}}[5m]))", "$server"),
        (f"sum(max by (server) (rate(pg_replica_routed_reads_total{{{C}}}[5m])))",
         "whole cluster")),
        "Synthetic reads routed to this server next to all routed reads.",
        unit="reqps"), 8, 7)
    L.add(state_timeline("Read rotation and synthetic check", targets(
        (f"max(pg_replica_healthy{{{S}}})", "in rotation"),
        (f"max(pg_replica_synthetic_check_success{{{S}}})", "synthetic check")),
        value_map((0, "no", "red"), (1, "yes", "green")),
        "Read rotation membership and the result of the last synthetic "
        "read."), 8, 7)
    L.add(timeseries("Synthetic check duration and rotation changes", targets(
        (f"max(pg_replica_synthetic_check_duration_seconds{{{S}}})",
         "synthetic check duration"),
        (f"max(increase(pg_replica_rotation_changes_total{{{S}}}[5m]))",
         "rotation changes (5m)")),
        "Duration of the last synthetic read (left axis, seconds) and "
        "rotation changes in the last 5 minutes (right axis).", unit="s",
        overrides=[{"matcher": {"id": "byName",
                                "options": "rotation changes (5m)"},
                    "properties": [
                        {"id": "unit", "value": "short"},
                        {"id": "decimals", "value": 0},
                        {"id": "custom.axisPlacement", "value": "right"},
                        {"id": "custom.drawStyle", "value": "bars"}]}]),
        8, 7)

    L.row("Replication slots on $server")
    L.add(timeseries("WAL retained by slots", targets(
        (f"max by (slot) (pg_replica_slot_retained_wal_bytes{{{S}}})",
         "{{slot}} retained"),
        (f"max by (slot) (pg_replica_slot_safe_wal_size_bytes{{{S}}})",
         "{{slot}} safe size left")),
        "WAL each slot holds back, and (with max_slot_wal_keep_size) how much "
        "more can be written before the slot is lost.", unit="bytes",
        thresholds=steps(("green", None), ("red", SLOT_RETAINED_BYTES)),
        threshold_lines=True), 12, 7)
    L.add(state_timeline("Slot active", targets(
        (f"max by (slot) (pg_replica_slot_active{{{S}}})", "{{slot}}")),
        ACTIVE_MAP, "Whether each replication slot has a consumer."), 12, 7)

    L.row("Polling")
    L.add(timeseries("Poll duration", targets(
        (f"max(pg_replica_poll_duration_seconds{{{S}}})", "poll duration")),
        "Duration of the last poll.", unit="s"), 8, 7)
    L.add(timeseries("Poll errors and last poll age", targets(
        (f"max(increase(pg_replica_poll_errors_total{{{S}}}[5m]))",
         "failed polls (5m)"),
        (f"time() - max(pg_replica_last_poll_success_timestamp_seconds{{{S}}})",
         "seconds since the last successful poll")),
        "Failed polls in the last 5 minutes and the age of the last "
        "successful poll.",
        overrides=[{"matcher": {"id": "byName",
                                "options": "seconds since the last successful poll"},
                    "properties": [
                        {"id": "unit", "value": "s"},
                        {"id": "custom.axisPlacement", "value": "right"}]}]),
        8, 7)
    L.add(state_timeline("Collectors", targets(
        (f"min by (collector) (pg_replica_collector_success{{{S}}})",
         "{{collector}}")),
        OK_MAP, "Whether each collector succeeded in the last poll."), 8, 7)

    return dashboard(
        "pg-replica-server", "PostgreSQL replicas: server detail",
        "pg_replica_exporter: one server of a cluster in detail.",
        L,
        [query_variable("cluster", "Cluster",
                        "label_values(pg_replica_up, cluster)"),
         query_variable("server", "Server",
                        'label_values(pg_replica_up{cluster="$cluster"}, server)')],
        dashboard_links())


DASHBOARDS = {
    "pg-replica-overview.json": overview,
    "pg-replica-server.json": server_detail,
}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a JSON file differs from the output")
    parser.add_argument("--out-dir", default=os.path.dirname(
        os.path.abspath(__file__)))
    args = parser.parse_args()
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(args.out_dir, name)
        content = render(build)
        if args.check:
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


if __name__ == "__main__":
    sys.exit(main())
