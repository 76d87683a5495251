#!/usr/bin/env python3
"""Checks the Grafana dashboards in dashboards/*.json.

For every dashboard:
  * valid JSON; a non-empty uid (at most 40 characters) and title, both unique
    across the dashboards; schemaVersion >= 36;
  * an import input DS_PROMETHEUS (type datasource, plugin prometheus), and
    every datasource reference is "${DS_PROMETHEUS}" or the datasource
    variable (never a hard-wired uid from someone's Grafana);
  * template variables `cluster` (label_values(pg_replica_up, cluster)) and
    `server`;
  * panel ids unique (rows' nested panels included), every panel on the
    24-column grid without overlapping another, unique refIds per panel;
  * an annotation query over ALERTS;
  * no query names a scrape job (a `job` matcher with a literal value);
  * every metric name in a PromQL expression (expr, variable and annotation
    queries; names starting with pg_replica) is published by the agent or is
    a recording rule of rules/*.yml. Published names come from
    docs/metrics.md when it exists, else from the "pg_replica_..." string
    literals of src/**/*.cc (metrics.cc and api.cc of src/http, the reload
    gauges of src/app); when both exist, a name must also appear in the
    sources;
  * with promtool available, every expression parses as PromQL (Grafana
    variables replaced by placeholders).

Usage:
  check_dashboards.py [--repo DIR] [--dashboards DIR] [--promtool PATH|none]
  check_dashboards.py --self-test   # the checks reject broken dashboards

Exit status 0 when everything passes, 1 otherwise. Python 3 stdlib only.
"""

import argparse
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

DS_INPUT = "DS_PROMETHEUS"
ALLOWED_DS_UIDS = {"${DS_PROMETHEUS}", "${datasource}", "$datasource"}
PROMQL_KEYS = {"expr", "query", "definition"}
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]*)"')
LABEL_VALUES = re.compile(r"^\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$",
                          re.S)
OTHER_VARIABLE_FUNCS = re.compile(r"^\s*(label_names|metrics|query_result|label_values)\(")


# ---------------------------------------------------------------------------
# Known names
# ---------------------------------------------------------------------------


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def names_from_metrics_doc(text):
    """pg_replica names in the first cell of docs/metrics.md's table rows
    (all backticked pg_replica names if there are no such rows)."""
    names = set()
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            cells = line.strip().strip("|").split("|")
            names.update(re.findall(r"`(pg_replica[A-Za-z0-9_:]*)`", cells[0]))
    if not names:
        names.update(re.findall(r"`(pg_replica[A-Za-z0-9_:]*)`", text))
    return names


def names_from_sources(repo):
    """"pg_replica..." string literals of src/**/*.cc (tests excluded), with
    adjacent literals ("a_" "b") joined as the compiler joins them."""
    names = set()
    for path in sorted(glob.glob(os.path.join(repo, "src", "**", "*.cc"),
                                 recursive=True)):
        if path.endswith("_test.cc"):
            continue
        text = re.sub(r'"\s*"', "", read(path))
        names.update(re.findall(r'"(pg_replica[A-Za-z0-9_:]*)"', text))
    return names


def recording_rules(repo):
    names = set()
    for path in sorted(glob.glob(os.path.join(repo, "rules", "*.yml"))
                       + glob.glob(os.path.join(repo, "rules", "*.yaml"))):
        for m in re.finditer(r"^\s*(?:-\s*)?record:\s*[\"']?([A-Za-z_:][A-Za-z0-9_:]*)",
                             read(path), re.M):
            names.add(m.group(1))
    return names


class Known:
    def __init__(self, published, source, code, rules):
        self.published = published  # documented (or, without docs, in code)
        self.source = source
        self.code = code  # None when the docs are the only source
        self.rules = rules

    @classmethod
    def load(cls, repo):
        code = names_from_sources(repo)
        doc = os.path.join(repo, "docs", "metrics.md")
        if os.path.exists(doc):
            published = names_from_metrics_doc(read(doc))
            source = "docs/metrics.md"
            code_check = code if code else None
        else:
            published, source, code_check = code, "src/**/*.cc", None
        return cls(published, source, code_check, recording_rules(repo))

    def problem(self, name):
        """None when the name is known, else what is wrong with it."""
        if name in self.rules:
            return None
        if name not in self.published:
            return (f"unknown metric {name} (neither in {self.source} nor a "
                    f"recording rule of rules/*.yml)")
        if self.code is not None and name not in self.code:
            return (f"metric {name} is documented in {self.source} but no "
                    f"source file under src/ publishes it")
        return None


# ---------------------------------------------------------------------------
# PromQL in the dashboard
# ---------------------------------------------------------------------------


def walk(node, path="$"):
    """Yields (path, key, value) for every dict entry, recursively."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{path}[{i}]")


def promql_of(key, value):
    """The PromQL in a dashboard field, or None.

    Template variable queries are label_values(SELECTOR, label): the selector
    is PromQL; other variable functions (label_names(), metrics()) are not.
    """
    if key not in PROMQL_KEYS or not isinstance(value, str) or not value.strip():
        return None
    m = LABEL_VALUES.match(value)
    if m:
        return m.group(1)
    if OTHER_VARIABLE_FUNCS.match(value):
        return None
    if key == "query" and value in ("prometheus",):  # datasource variable
        return None
    return value


def expressions(doc):
    """(where, promql) for every PromQL expression in the dashboard."""
    out = []
    for path, key, value in walk(doc):
        q = promql_of(key, value)
        if q is not None:
            where = f"{path}.{key}"
            m = re.match(r"\$\.panels\[(\d+)\](?:\.panels\[(\d+)\])?", path)
            if m:
                p = doc["panels"][int(m.group(1))]
                if m.group(2) is not None:
                    p = p["panels"][int(m.group(2))]
                where += f" (panel {p.get('title', '')!r})"
            out.append((where, q))
    return out


def metric_names(promql):
    """Names (starting with pg_replica) a PromQL expression selects."""
    names = set(n for n in NAME_MATCHER.findall(promql) if n.startswith("pg_replica"))
    stripped = STRING_LITERAL.sub('""', promql)
    for token in IDENTIFIER.findall(stripped):
        if token.startswith("pg_replica"):
            names.add(token)
    return names


def substitute_variables(promql):
    """Replaces Grafana variables so that promtool can parse the expression."""
    promql = re.sub(r"\$__(range|rate_interval|interval|range_s|interval_ms)\b"
                    r"|\$\{__(range|rate_interval|interval)\}", "5m", promql)
    promql = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*", "x", promql)
    return promql


def promtool_errors(promtool, exprs):
    """Parses every (where, expr) with `promtool check rules`; returns errors."""
    if not exprs:
        return []
    errors = []
    with tempfile.TemporaryDirectory() as tmp:
        # One file per expression: promtool stops at a file's first error.
        paths = []
        for i, (where, expr) in enumerate(exprs):
            path = os.path.join(tmp, f"expr{i}.yml")
            with open(path, "w", encoding="utf-8") as f:
                f.write("groups:\n  - name: dashboard\n    rules:\n"
                        f"      - record: dashboard:expr{i}\n"
                        f"        expr: {json.dumps(substitute_variables(expr))}\n")
            paths.append((path, where, expr))
        r = subprocess.run([promtool, "check", "rules"] + [p for p, _, _ in paths],
                           capture_output=True, text=True)
        if r.returncode == 0:
            return []
        # promtool reports each failing file as "PATH: message" on stderr.
        by_path = {p: (where, expr) for p, where, expr in paths}
        for line in r.stderr.splitlines():
            path, sep, msg = line.partition(": ")
            if sep and path in by_path:
                where, expr = by_path[path]
                errors.append(f"{where}: PromQL does not parse: {expr!r}: {msg}")
        if not errors:
            errors.append("promtool check rules failed: "
                          + " ".join((r.stdout + r.stderr).split()))
    return errors


# ---------------------------------------------------------------------------
# Dashboard structure
# ---------------------------------------------------------------------------


def all_panels(doc):
    """Top-level panels and the panels nested in (collapsed) rows."""
    for p in doc.get("panels", []):
        yield p
        for q in p.get("panels", []) or []:
            yield q


def check_structure(doc):
    errors = []
    uid = doc.get("uid")
    if not isinstance(uid, str) or not uid.strip():
        errors.append("missing uid")
    elif len(uid) > 40:
        errors.append(f"uid {uid!r} is longer than 40 characters")
    if not isinstance(doc.get("title"), str) or not doc["title"].strip():
        errors.append("missing title")
    if not isinstance(doc.get("schemaVersion"), int) or doc["schemaVersion"] < 36:
        errors.append(f"schemaVersion {doc.get('schemaVersion')!r} < 36")

    inputs = doc.get("__inputs") or []
    if not any(i.get("name") == DS_INPUT and i.get("type") == "datasource"
               and i.get("pluginId") == "prometheus" for i in inputs):
        errors.append(f"no __inputs entry {DS_INPUT} (type datasource, pluginId "
                      f"prometheus): Grafana's Import would not ask for the "
                      f"datasource")

    variables = {v.get("name"): v for v in doc.get("templating", {}).get("list", [])}
    ds_var = variables.get("datasource")
    if ds_var is not None:
        if ds_var.get("type") != "datasource" or ds_var.get("query") != "prometheus":
            errors.append("variable datasource is not a prometheus datasource variable")
        elif (ds_var.get("current") or {}).get("value") != "${DS_PROMETHEUS}":
            errors.append("variable datasource does not default to ${DS_PROMETHEUS}")
    for path, key, value in walk(doc):
        if key != "datasource" or value is None:
            continue
        uid_ = value.get("uid") if isinstance(value, dict) else value
        kind = value.get("type") if isinstance(value, dict) else None
        if kind in ("grafana", "datasource", "dashboard") or uid_ in ("-- Grafana --",):
            continue
        if uid_ not in ALLOWED_DS_UIDS:
            errors.append(f"{path}.datasource: uid {uid_!r} is hard-wired; use "
                          f"${{{DS_INPUT}}} or ${{datasource}}")
        elif uid_ != "${DS_PROMETHEUS}" and ds_var is None:
            errors.append(f"{path}.datasource uses ${{datasource}} but there is "
                          f"no datasource variable")

    cluster = variables.get("cluster")
    if cluster is None:
        errors.append("no template variable cluster")
    else:
        q = cluster.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if not isinstance(q, str) or not re.fullmatch(
                r"\s*label_values\(\s*pg_replica_up\s*,\s*cluster\s*\)\s*", q):
            errors.append(f"variable cluster: query {q!r} is not "
                          f"label_values(pg_replica_up, cluster)")
    if "server" not in variables:
        errors.append("no template variable server")

    annotations = doc.get("annotations", {}).get("list", [])
    if not any("ALERTS" in (a.get("expr") or "") for a in annotations):
        errors.append("no annotation query over ALERTS")

    ids = {}
    boxes = []
    for p in all_panels(doc):
        pid = p.get("id")
        title = p.get("title", "")
        if not isinstance(pid, int):
            errors.append(f"panel {title!r}: id {pid!r} is not an integer")
        elif pid in ids:
            errors.append(f"panel id {pid} used twice ({ids[pid]!r} and {title!r})")
        else:
            ids[pid] = title
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in ("h", "w", "x", "y")):
            errors.append(f"panel {title!r}: gridPos {g!r} incomplete")
        elif g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24:
            errors.append(f"panel {title!r}: gridPos {g!r} outside the 24-column grid")
        else:
            for other_title, o in boxes:
                if (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"]
                        and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]):
                    errors.append(f"panels {other_title!r} and {title!r} overlap")
            boxes.append((title, g))
        if p.get("type") == "row":
            continue
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(refs) != len(set(refs)) or None in refs:
            errors.append(f"panel {title!r}: refIds {refs} not unique")
        for t in p.get("targets", []):
            if not (t.get("expr") or "").strip():
                errors.append(f"panel {title!r}: target {t.get('refId')} has no expr")
    return errors


# A job matcher with a literal value: the dashboards must work whatever the
# scrape job is called (select jobs by the `job` variable instead).
LITERAL_JOB = re.compile(r'\bjob\s*(=|!=|=~|!~)\s*"(?!\$)')


def check_metrics(doc, known):
    errors = []
    for where, expr in expressions(doc):
        if LITERAL_JOB.search(expr):
            errors.append(f"{where}: assumes a scrape job name ({expr!r}); "
                          f"use the job variable")
        for name in sorted(metric_names(expr)):
            problem = known.problem(name)
            if problem:
                errors.append(f"{where}: {problem}")
    return errors


def check_dashboard(doc, known, promtool):
    errors = check_structure(doc) + check_metrics(doc, known)
    if promtool:
        errors += promtool_errors(promtool, expressions(doc))
    return errors


def check_all(paths, known, promtool):
    """Returns {file name: [errors]} over every dashboard file."""
    results = {}
    uids, titles = {}, {}
    for path in paths:
        name = os.path.basename(path)
        try:
            doc = json.loads(read(path))
        except (ValueError, UnicodeDecodeError) as e:
            results[name] = [f"not valid JSON: {e}"]
            continue
        if not isinstance(doc, dict):
            results[name] = ["not a JSON object"]
            continue
        errors = check_dashboard(doc, known, promtool)
        for key, seen in (("uid", uids), ("title", titles)):
            value = doc.get(key)
            if value in seen:
                errors.append(f"{key} {value!r} also used by {seen[value]}")
            seen[value] = name
        results[name] = errors
    return results


# ---------------------------------------------------------------------------
# Self-test: the checks must reject broken dashboards.
# ---------------------------------------------------------------------------


def first_target(doc):
    for p in all_panels(doc):
        if p.get("targets"):
            return p, p["targets"][0]
    raise AssertionError("dashboard without queries")


def mutate_unknown_metric(doc):
    _, t = first_target(doc)
    t["expr"] = "max by (server) (pg_replica_no_such_metric_seconds)"
    return "unknown metric pg_replica_no_such_metric_seconds"


def mutate_duplicate_id(doc):
    panels = [p for p in all_panels(doc)]
    panels[-1]["id"] = panels[1]["id"]
    return f"panel id {panels[1]['id']} used twice"


def mutate_no_input(doc):
    doc["__inputs"] = []
    return "no __inputs entry DS_PROMETHEUS"


def mutate_hardwired_datasource(doc):
    p, _ = first_target(doc)
    p["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    return "is hard-wired"


def mutate_no_uid(doc):
    del doc["uid"]
    return "missing uid"


def mutate_no_cluster_variable(doc):
    doc["templating"]["list"] = [v for v in doc["templating"]["list"]
                                 if v.get("name") != "cluster"]
    return "no template variable cluster"


def mutate_overlap(doc):
    panels = [p for p in all_panels(doc) if p.get("type") != "row"]
    panels[1]["gridPos"] = dict(panels[0]["gridPos"])
    return "overlap"


def mutate_bad_promql(doc):
    _, t = first_target(doc)
    t["expr"] = "sum by (server) (pg_replica_up{cluster=\"$cluster\"}"
    return "PromQL does not parse"


def mutate_literal_job(doc):
    _, t = first_target(doc)
    t["expr"] = 'max by (instance) (up{job="pg_replica_exporter"})'
    return "assumes a scrape job name"


def mutate_metric_in_string_is_ignored(doc):
    _, t = first_target(doc)
    t["expr"] = 'up{instance="pg_replica_exporter_not_a_metric"}'
    return None  # must still pass


def self_test(paths, known, promtool):
    if not paths:
        print("self-test: no dashboards to mutate", file=sys.stderr)
        return 1
    base = json.loads(read(paths[0]))
    failures = []
    baseline = check_dashboard(base, known, promtool)
    uses_promtool = {mutate_bad_promql}
    if baseline:
        failures.append(f"unmodified {os.path.basename(paths[0])} fails: {baseline}")
    mutations = [mutate_unknown_metric, mutate_duplicate_id, mutate_no_input,
                 mutate_hardwired_datasource, mutate_no_uid,
                 mutate_no_cluster_variable, mutate_overlap,
                 mutate_literal_job, mutate_metric_in_string_is_ignored]
    if promtool:
        mutations.append(mutate_bad_promql)
    for mutate in mutations:
        doc = copy.deepcopy(base)
        expected = mutate(doc)
        errors = check_dashboard(
            doc, known, promtool if mutate in uses_promtool else None)
        if expected is None:
            ok = not errors
        else:
            ok = any(expected in e for e in errors)
        print(f"self-test {mutate.__name__}: {'ok' if ok else 'FAILED'}")
        if not ok:
            failures.append(f"{mutate.__name__}: expected "
                            f"{expected or 'no errors'!r}, got {errors}")
    # Invalid JSON and a duplicate uid across files.
    with tempfile.TemporaryDirectory() as tmp:
        bad = os.path.join(tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"uid": "x", ')
        twin = os.path.join(tmp, "twin.json")
        with open(twin, "w") as f:
            f.write(read(paths[0]))
        results = check_all([paths[0], twin, bad], known, None)
        for name, expected in (("bad.json", "not valid JSON"),
                               ("twin.json", "also used by")):
            ok = any(expected in e for e in results[name])
            print(f"self-test {name}: {'ok' if ok else 'FAILED'}")
            if not ok:
                failures.append(f"{name}: expected {expected!r}, got {results[name]}")
    for f in failures:
        print("FAILED " + f, file=sys.stderr)
    return 1 if failures else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--dashboards", help="default: REPO/dashboards")
    parser.add_argument("--promtool", default="auto",
                        help="path to promtool, 'auto' (PATH) or 'none'")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()

    promtool = None
    if args.promtool == "auto":
        promtool = shutil.which("promtool")
    elif args.promtool != "none":
        promtool = args.promtool
    dashboards = args.dashboards or os.path.join(args.repo, "dashboards")
    paths = sorted(glob.glob(os.path.join(dashboards, "*.json")))
    known = Known.load(args.repo)
    print(f"published metric names: {len(known.published)} from {known.source}; "
          f"recording rules: {len(known.rules)}; promtool: {promtool or 'not used'}")
    if not known.published:
        print(f"no metric names found in {known.source}", file=sys.stderr)
        return 1

    if args.self_test:
        return self_test(paths, known, promtool)

    if not paths:
        print(f"no dashboards in {dashboards}", file=sys.stderr)
        return 1
    failed = False
    for name, errors in check_all(paths, known, promtool).items():
        if errors:
            failed = True
            for e in errors:
                print(f"{name}: {e}", file=sys.stderr)
        else:
            print(f"{name}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
