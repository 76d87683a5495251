#!/usr/bin/env python3
"""Checks dashboards/*.json against Grafana's published dashboard schema.

Grafana publishes its dashboard model on npm as the TypeScript type
`Dashboard` of @grafana/schema (generated from its CUE kind); there is no
JSON Schema file and no Grafana server is needed. This script installs
(once, cached outside the clone) @grafana/schema, ts-json-schema-generator
and ajv, turns the type into two JSON Schemas (unknown properties allowed /
refused) and runs check_schema.cjs on every dashboard.

    check_schema.py [--repo DIR] [--dashboards DIR] [--self-test]

Cache: $PGRE_CACHE_DIR (default /var/cache/pg_replica_exporter-ci)/grafana-schema/<versions>.
Exit 0 valid, 1 invalid or broken, 77 skipped (npm or its registry
unreachable: the reason is printed). Python 3 standard library only.
"""

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
SKIP = 77

# Grafana 10.4 (the dashboards target Grafana 9 and 10, schemaVersion 37).
PACKAGES = {"@grafana/schema": "10.4.19", "ts-json-schema-generator": "2.3.0",
            "ajv": "8.17.1"}
TYPES = "node_modules/@grafana/schema/dist/esm/raw/dashboard/x/dashboard_types.gen.d.ts"
NETWORK_ERROR = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|"
                           r"ENETUNREACH|network|socket hang up|getaddrinfo", re.I)


def cache_dir():
    base = os.environ.get("PGRE_CACHE_DIR") or "/var/cache/pg_replica_exporter-ci"
    key = "_".join(f"{n.split('/')[-1]}-{v}" for n, v in PACKAGES.items())
    return os.path.join(base, "grafana-schema", key)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def install(dir_):
    """npm install into dir_ unless done. Returns None, or why it skipped."""
    done = os.path.join(dir_, ".installed")
    if os.path.exists(done):
        return None
    npm = shutil.which("npm")
    if not npm:
        return "npm is not installed (scripts/install-deps.sh installs it)"
    os.makedirs(dir_, exist_ok=True)
    r = run([npm, "install", "--prefix", dir_, "--no-audit", "--no-fund",
             "--no-save", "--loglevel=error"]
            + [f"{n}@{v}" for n, v in PACKAGES.items()], timeout=600)
    if r.returncode != 0:
        out = (r.stdout + r.stderr).strip()
        if NETWORK_ERROR.search(out):
            return "the npm registry is unreachable: " + " ".join(out.split())[:300]
        raise RuntimeError("npm install failed: " + out)
    open(done, "w").close()
    return None


def schemas(dir_):
    """The open and strict JSON Schemas of Dashboard, generated once."""
    out = []
    for mode, extra in (("open", ["--additional-properties"]), ("strict", [])):
        path = os.path.join(dir_, f"dashboard.{mode}.schema.json")
        if not os.path.exists(path):
            r = run([os.path.join(dir_, "node_modules", ".bin", "ts-json-schema-generator"),
                     "--path", os.path.join(dir_, TYPES), "--type", "Dashboard",
                     "--no-type-check", "--out", path + ".tmp"] + extra)
            if r.returncode != 0:
                raise RuntimeError("ts-json-schema-generator failed: " + r.stdout + r.stderr)
            os.replace(path + ".tmp", path)
        out.append(path)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=DEFAULT_REPO)
    parser.add_argument("--dashboards")
    parser.add_argument("--self-test", action="store_true",
                        help="check that broken copies are rejected")
    args = parser.parse_args()
    paths = sorted(glob.glob(os.path.join(args.dashboards or os.path.join(
        args.repo, "dashboards"), "*.json")))
    if not paths:
        print("no dashboards", file=sys.stderr)
        return 1
    dir_ = cache_dir()
    try:
        why = install(dir_)
        if why:
            print(f"SKIPPED: {why}")
            return SKIP
        open_schema, strict_schema = schemas(dir_)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
        print(f"check_schema: {e}", file=sys.stderr)
        return 1
    print(f"schema: @grafana/schema {PACKAGES['@grafana/schema']} Dashboard ({dir_})")
    env = dict(os.environ, NODE_PATH=os.path.join(dir_, "node_modules"))
    argv = ["node", os.path.join(HERE, "check_schema.cjs"), open_schema,
            strict_schema] + paths + (["--self-test"] if args.self_test else [])
    return subprocess.run(argv, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
