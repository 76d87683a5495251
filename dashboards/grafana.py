"""The Grafana dashboard model dashboards/generate.py writes its specs in.

A dashboard is a list of panel specs (Row, Stat, Series, States, Bars,
Table), each a plain dataclass: its title, queries, description, size,
unit, thresholds, mappings and the scenarios its queries are proven in
(`scenarios`, see SCENARIOS). Layout places them on Grafana's 24-column
grid, Dashboard renders the JSON (schemaVersion 37: Grafana 9 and 10).
Every query goes through the `datasource` variable.

Python 3 standard library only.
"""

import dataclasses
from typing import Optional

SCHEMA_VERSION = 37
DS = {"type": "prometheus", "uid": "${datasource}"}

# The scenarios tests/e2e/dashboards_test.cc drives against a real cluster
# (a primary, three streaming replicas, pgbouncers in front of the primary
# and replica1, the agent, Prometheus with the shipped rules); every query
# must return a result in each scenario it declares.
HEALTHY = "healthy"  # everything up and streaming, idle primary
REPLAY_PAUSED = "replay_paused"  # replica1's replay paused, primary writing
REPLICA_STOPPED = "replica_stopped"  # replica2 stopped
ALL_STOPPED = "all_replicas_stopped"  # every replica stopped: read failover
SLOT_INACTIVE = "slot_inactive"  # a physical slot without consumer
# a pgbouncer in front of the primary and one in front of replica1, the
# primary's pool exhausted and a client waiting in it
PGBOUNCER = "pgbouncer"
SCENARIOS = (HEALTHY, REPLAY_PAUSED, REPLICA_STOPPED, ALL_STOPPED,
             SLOT_INACTIVE, PGBOUNCER)


# ---------------------------------------------------------------------------
# Queries, thresholds, value mappings
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Q:
    """One PromQL query of a panel. `scenarios`, when set, replaces the
    panel's for this query."""
    expr: str
    legend: str = ""
    scenarios: tuple = ()


def steps(*pairs):
    """(colour, from value) pairs, the first from None -> Grafana steps."""
    return {"mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in pairs]}


def value_map(*entries):
    """(value, text, colour) triples -> one Grafana value mapping."""
    return [{
        "type": "value",
        "options": {str(v): {"text": text, "color": colour, "index": i}
                    for i, (v, text, colour) in enumerate(entries)},
    }]


def override(name, *props, regex=False):
    """A field override: (property id, value) pairs for the field `name`."""
    return {"matcher": {"id": "byRegexp" if regex else "byName",
                        "options": name},
            "properties": [{"id": k, "value": v} for k, v in props]}


# ---------------------------------------------------------------------------
# Panel specs
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Panel:
    """What every panel kind has. `scenarios`: where its queries are
    proven (tests/e2e/dashboards_test.cc)."""
    title: str
    queries: list
    _: dataclasses.KW_ONLY
    doc: str
    scenarios: tuple
    w: int = 12
    h: int = 8
    unit: Optional[str] = None
    thresholds: Optional[dict] = None
    mappings: Optional[list] = None
    decimals: Optional[int] = None
    min: Optional[float] = None
    max: Optional[float] = None
    no_value: Optional[str] = None
    overrides: list = dataclasses.field(default_factory=list)
    links: Optional[list] = None  # data links of every field
    repeat: Optional[str] = None  # a variable: one panel per value
    instant: bool = False

    kind = ""

    def field_defaults(self):
        d = {"unit": self.unit, "thresholds": self.thresholds or steps(("green", None)),
             "mappings": self.mappings, "custom": self.custom(),
             "min": self.min, "max": self.max, "decimals": self.decimals,
             "color": self.color(), "noValue": self.no_value,
             # Data links: on every value, with the series' labels.
             "links": self.links}
        return {k: v for k, v in d.items() if v is not None}

    def custom(self):
        return None

    def color(self):
        return {"mode": "thresholds"}

    def options(self):
        return {}

    def targets(self):
        out = []
        for i, q in enumerate(self.queries):
            t = {"datasource": DS, "expr": q.expr, "refId": chr(ord("A") + i)}
            if q.legend:
                t["legendFormat"] = q.legend
            if self.instant:
                t["instant"] = True
                t["range"] = False
            else:
                t["range"] = True
            if isinstance(self, Table):
                t["format"] = "table"
            out.append(t)
        return out

    def extra(self):
        return {}

    def render(self):
        p = {"type": self.kind, "title": self.title, "datasource": DS,
             "targets": self.targets(),
             "fieldConfig": {"defaults": self.field_defaults(),
                             "overrides": self.overrides},
             "options": self.options(), "description": self.doc}
        if self.repeat:
            p.update(repeat=self.repeat, repeatDirection="h", maxPerRow=4)
        p.update(self.extra())
        return p

    def proofs(self):
        """(refId, query, scenarios) of every query."""
        return [(chr(ord("A") + i), q, q.scenarios or self.scenarios)
                for i, q in enumerate(self.queries)]


REDUCE_LAST = {"calcs": ["lastNotNull"], "fields": "", "values": False}
HIDE_NOTHING = {"legend": False, "tooltip": False, "viz": False}


@dataclasses.dataclass
class Stat(Panel):
    """A current value; colour_mode "background" or "value"."""
    w: int = 3
    h: int = 4
    colour_mode: str = "background"
    graph: bool = False
    kind = "stat"

    def options(self):
        return {"reduceOptions": REDUCE_LAST, "colorMode": self.colour_mode,
                "graphMode": "area" if self.graph else "none",
                "justifyMode": "auto", "orientation": "auto",
                "textMode": "auto"}


@dataclasses.dataclass
class Series(Panel):
    """A time series graph; threshold_lines draws the thresholds dashed."""
    min: Optional[float] = 0
    threshold_lines: bool = False
    stack: bool = False
    bars: bool = False
    legend_calcs: tuple = ("lastNotNull", "max")
    kind = "timeseries"

    def color(self):
        return {"mode": "palette-classic"}

    def custom(self):
        return {
            "drawStyle": "bars" if self.bars else "line",
            "lineWidth": 1,
            "fillOpacity": 100 if self.bars else (30 if self.stack else 10),
            "gradientMode": "none",
            "showPoints": "never",
            "pointSize": 4,
            # Absent series (a server that cannot be polled) stay gaps,
            # never a line drawn across the outage.
            "spanNulls": False,
            "lineInterpolation": "linear",
            "axisPlacement": "auto",
            "axisLabel": "",
            "scaleDistribution": {"type": "linear"},
            "stacking": {"mode": "normal" if self.stack else "none",
                         "group": "A"},
            "thresholdsStyle": {"mode": "dashed" if self.threshold_lines
                                else "off"},
            "hideFrom": HIDE_NOTHING,
        }

    def options(self):
        return {"legend": {"displayMode": "table", "placement": "bottom",
                           "showLegend": True,
                           "calcs": list(self.legend_calcs)},
                "tooltip": {"mode": "multi", "sort": "desc"}}


@dataclasses.dataclass
class States(Panel):
    """A state timeline of 0/1 (or small integer) series, named by mappings."""
    kind = "state-timeline"

    def custom(self):
        return {"lineWidth": 0, "fillOpacity": 80, "hideFrom": HIDE_NOTHING}

    def options(self):
        return {"mergeValues": True, "showValue": "auto",
                "alignValue": "left", "rowHeight": 0.9,
                "legend": {"displayMode": "list", "placement": "bottom",
                           "showLegend": False},
                "tooltip": {"mode": "single", "sort": "none"}}


@dataclasses.dataclass
class Bars(Panel):
    """A horizontal bar gauge of current values."""
    min: Optional[float] = 0
    kind = "bargauge"

    def options(self):
        return {"reduceOptions": REDUCE_LAST, "orientation": "horizontal",
                "displayMode": "gradient", "showUnfilled": True,
                "minVizHeight": 10, "minVizWidth": 0}


@dataclasses.dataclass(frozen=True)
class Column:
    """A table column: a label of the series (`label`) or the value of one
    query (`query`; `hidden` keeps it out of the table: a query that only
    contributes labels)."""
    title: str
    label: Optional[str] = None
    query: Optional[Q] = None
    unit: Optional[str] = None
    mappings: Optional[list] = None
    thresholds: Optional[dict] = None  # with it, the cell is coloured
    links: Optional[list] = None
    hidden: bool = False

    def override(self):
        props = []
        if self.unit:
            props.append(("unit", self.unit))
        if self.mappings:
            props.append(("mappings", self.mappings))
        if self.thresholds:
            props += [("thresholds", self.thresholds),
                      ("custom.displayMode", "color-background"),
                      ("color", {"mode": "thresholds"})]
        if self.links:
            props.append(("links", self.links))
        return override(self.title, *props) if props else None


def label(name, title, **kw):
    return Column(title, label=name, **kw)


def value(title, expr, **kw):
    return Column(title, query=Q(expr), **kw)


@dataclasses.dataclass
class Table(Panel):
    """An instant table: the queries of `columns` merged on their labels,
    columns in the order given; sorted by `sort_by`."""
    columns: tuple = ()
    sort_by: Optional[str] = None
    queries: list = dataclasses.field(default_factory=list)
    instant: bool = True
    kind = "table"

    def __post_init__(self):
        self.queries = [c.query for c in self.columns if c.query]
        self.overrides = [o for o in (c.override() for c in self.columns) if o]

    def _field_names(self):
        """Grafana's field name of each column after the merge, in order."""
        names, refs = [], iter(chr(ord("A") + i) for i in range(26))
        single = len(self.queries) == 1
        for c in self.columns:
            if c.label:
                names.append(c.label)
            else:
                names.append("Value" if single else f"Value #{next(refs)}")
        return names

    def custom(self):
        return {"align": "auto", "displayMode": "auto", "inspect": False}

    def color(self):
        return None

    def options(self):
        o = {"showHeader": True, "cellHeight": "sm",
             "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
        if self.sort_by:
            o["sortBy"] = [{"displayName": self.sort_by, "desc": False}]
        return o

    def extra(self):
        cols = list(zip(self._field_names(), self.columns))
        shown = [(name, c) for name, c in cols if not c.hidden]
        organize = {
            "excludeByName": {"Time": True,
                              **{name: True for name, c in cols if c.hidden}},
            "indexByName": {name: i for i, (name, _) in enumerate(shown)},
            "renameByName": {name: c.title for name, c in shown},
        }
        return {"transformations": [{"id": "merge", "options": {}},
                                    {"id": "organize", "options": organize}]}


@dataclasses.dataclass(frozen=True)
class Row:
    title: str


# ---------------------------------------------------------------------------
# Layout and the dashboard
# ---------------------------------------------------------------------------


def layout(specs):
    """Places the specs left to right, rows across; returns the panels'
    JSON with ids and gridPos."""
    panels, x, y, row_h = [], 0, 0, 0

    def place(p, w, h):
        nonlocal x, y, row_h
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = len(panels) + 1
        p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
        panels.append(p)
        x, row_h = x + w, max(row_h, h)

    for spec in specs:
        if isinstance(spec, Row):
            if x:
                x, y, row_h = 0, y + row_h, 0
            place({"type": "row", "title": spec.title, "collapsed": False,
                   "panels": []}, 24, 1)
            x, y, row_h = 0, y + 1, 0
        else:
            place(spec.render(), spec.w, spec.h)
    return panels


def query_variable(name, label_, query, doc="", multi=False, include_all=False):
    return {
        "type": "query", "name": name, "label": label_, "datasource": DS,
        "definition": query,
        "query": {"query": query,
                  "refId": "PrometheusVariableQueryEditor-" + name},
        "refresh": 2,  # on time range change
        "sort": 1, "multi": multi, "includeAll": include_all,
        "options": [], "hide": 0, "regex": "",
        "skipUrlSync": False, "description": doc,
    }


def datasource_variable():
    # The initial value is the import input: "Import" asks for the
    # datasource, and a provisioned copy keeps the placeholder, so Grafana
    # falls back to the default Prometheus datasource.
    return {"type": "datasource", "name": "datasource", "label": "Datasource",
            "query": "prometheus",
            "current": {"selected": False, "text": "Prometheus",
                        "value": "${DS_PROMETHEUS}"},
            "hide": 0, "includeAll": False, "multi": False, "options": [],
            "refresh": 1, "regex": "", "skipUrlSync": False}


@dataclasses.dataclass(frozen=True)
class Annotation:
    name: str
    expr: str
    title: str
    text: str
    tags: str
    scenarios: tuple
    step: str = "60s"
    colour: str = "red"

    def render(self):
        return {"datasource": DS, "enable": True, "hide": False,
                "iconColor": self.colour, "name": self.name,
                "expr": self.expr, "step": self.step,
                "titleFormat": self.title, "textFormat": self.text,
                "tagKeys": self.tags, "useValueForTime": False}


BUILTIN_ANNOTATION = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
    "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
    "name": "Annotations & Alerts", "type": "dashboard",
}

PANEL_NAMES = {"stat": "Stat", "timeseries": "Time series",
               "state-timeline": "State timeline", "bargauge": "Bar gauge",
               "table": "Table", "text": "Text"}


def requires(panels):
    kinds = sorted({p["type"] for p in panels if p["type"] != "row"})
    return ([{"type": "grafana", "id": "grafana", "name": "Grafana",
              "version": "9.0.0"},
             {"type": "datasource", "id": "prometheus", "name": "Prometheus",
              "version": "1.0.0"}]
            + [{"type": "panel", "id": k, "name": PANEL_NAMES[k], "version": ""}
               for k in kinds])


@dataclasses.dataclass
class Variable:
    """A query variable; `scenarios`: where its query is proven."""
    name: str
    label: str
    query: str
    doc: str
    scenarios: tuple
    multi: bool = False
    include_all: bool = False

    def render(self):
        return query_variable(self.name, self.label, self.query, self.doc,
                              self.multi, self.include_all)


@dataclasses.dataclass
class Dashboard:
    uid: str
    title: str
    doc: str
    variables: list
    annotations: list
    specs: list
    tags: tuple
    links: list

    def render(self):
        panels = layout(self.specs)
        return {
            "__inputs": [{
                "name": "DS_PROMETHEUS", "label": "Prometheus",
                "description": "The Prometheus that scrapes pg_replica_exporter "
                               "and evaluates rules/pg_replica_exporter.rules.yml",
                "type": "datasource", "pluginId": "prometheus",
                "pluginName": "Prometheus",
            }],
            "__elements": {},
            "__requires": requires(panels),
            "annotations": {"list": [BUILTIN_ANNOTATION]
                            + [a.render() for a in self.annotations]},
            "description": self.doc,
            "editable": True,
            "fiscalYearStartMonth": 0,
            "graphTooltip": 1,  # shared crosshair
            "id": None,
            "links": self.links,
            "liveNow": False,
            "panels": panels,
            "refresh": "30s",
            "schemaVersion": SCHEMA_VERSION,
            "tags": list(self.tags),
            "templating": {"list": [datasource_variable()]
                           + [v.render() for v in self.variables]},
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {},
            "timezone": "",
            "title": self.title,
            "uid": self.uid,
            "version": 1,
            "weekStart": "",
        }

    def proofs(self):
        """Every query of the dashboard with the scenarios it is proven in:
        dicts {dashboard, where, ref, expr, kind, step?, scenarios}."""
        out = []
        for v in self.variables:
            out.append({"where": f"variable {v.name}", "ref": v.name,
                        "expr": v.query, "kind": "variable",
                        "scenarios": list(v.scenarios)})
        for a in self.annotations:
            out.append({"where": f"annotation {a.name}", "ref": a.name,
                        "expr": a.expr, "kind": "annotation", "step": a.step,
                        "scenarios": list(a.scenarios)})
        for spec in self.specs:
            if isinstance(spec, Row):
                continue
            for ref, q, scenarios in spec.proofs():
                out.append({"where": f"panel {spec.title}", "ref": ref,
                            "expr": q.expr,
                            "kind": "instant" if spec.instant else "range",
                            "scenarios": list(scenarios)})
        for p in out:
            p["dashboard"] = self.uid
            unknown = set(p["scenarios"]) - set(SCENARIOS)
            if not p["scenarios"] or unknown:
                raise ValueError(f"{self.uid}: {p['where']} {p['ref']}: "
                                 f"scenarios {p['scenarios']} (known: "
                                 f"{', '.join(SCENARIOS)})")
        return out
