#!/usr/bin/env python3
"""The shipped config/haproxy.cfg made to run on one machine: the demo's
(scripts/demo.sh --haproxy) and the load-balancer tests' (tests/support/
haproxy.h). Everything but addresses stays as shipped, so what runs is the
file operators get.

  scripts/haproxy-config.py --cluster NAME --agent PORT --writes PORT
      --reads PORT --stats PORT --server primary=PORT --server replica1=PORT
      ... [--config FILE]

Rewrites, on stdout:
  - each pool's `bind` to 127.0.0.1:--writes / --reads, the stats page's to
    127.0.0.1:--stats;
  - every check's `addr ... port ...` to the agent on 127.0.0.1:--agent;
  - the cluster in the check URIs (/lb/<cluster>/...) to --cluster;
  - each `server NAME HOST:PORT` to 127.0.0.1 and the --server port of
    NAME; a server line of another name (the backup) gets the port of the
    named server with its shipped address; every --server the shipped pool
    does not list is added after its last replica line, as a copy of it.
Exit 2 with a message when the shipped file lacks what this needs (the two
pools with servers, the agent's addr/port) or names a server not given.
"""
import argparse
import os
import re
import sys

LISTEN = re.compile(r"^listen\s+(\S+)")
BIND = re.compile(r"^(\s*bind\s+)\S+(.*)$")
SERVER = re.compile(r"^(\s*server\s+)(\S+)(\s+)(\S+)(.*)$")
AGENT = re.compile(r"addr\s+\S+\s+port\s+\d+")
URI = re.compile(r"/lb/[^/\s]+/")


def fail(message):
    print("haproxy-config: " + message, file=sys.stderr)
    sys.exit(2)


def rewrite(text, cluster, agent, ports, servers):
    lines = text.splitlines()
    address_port = {}  # shipped address -> port, from the named servers
    for line in lines:
        m = SERVER.match(line)
        if m and m.group(2) in servers:
            address_port[m.group(4)] = servers[m.group(2)]
    out = []
    section = ""
    agent_lines = 0
    counts = {}
    for k, line in enumerate(lines):
        m = LISTEN.match(line)
        if m:
            section = m.group(1)
        m = BIND.match(line)
        if m:
            port = ports.get(section, ports["stats"])
            line = "%s127.0.0.1:%d%s" % (m.group(1), port, m.group(2))
        if AGENT.search(line):
            line = AGENT.sub("addr 127.0.0.1 port %d" % agent, line)
            agent_lines += 1
        line = URI.sub("/lb/%s/" % cluster, line)
        m = SERVER.match(line)
        if not m:
            out.append(line)
            continue
        head, name, gap, address, tail = m.groups()
        port = servers.get(name, address_port.get(address))
        if port is None:
            fail("%s: server %s is none of --server %s" %
                 (section, name, ",".join(servers)))
        out.append("%s%s%s127.0.0.1:%d%s" % (head, name, gap, port, tail))
        counts[section] = counts.get(section, 0) + 1
        nxt = SERVER.match(lines[k + 1]) if k + 1 < len(lines) else None
        if name.startswith("replica") and not (
                nxt and nxt.group(2).startswith("replica")):
            for extra, extra_port in servers.items():
                if re.search(r"\bserver\s+%s\s" % re.escape(extra), text):
                    continue
                out.append("%s%s%s127.0.0.1:%d%s" %
                           (head, extra, gap, extra_port, tail))
    if not counts.get("reads") or not counts.get("writes") or agent_lines < 2:
        fail("expected the pools `reads` and `writes` with servers, each "
             "checking the agent (addr ... port ...)")
    return "\n".join(out) + "\n"


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=os.path.join(root, "config",
                                                    "haproxy.cfg"))
    p.add_argument("--cluster", required=True)
    p.add_argument("--agent", type=int, required=True)
    p.add_argument("--writes", type=int, required=True)
    p.add_argument("--reads", type=int, required=True)
    p.add_argument("--stats", type=int, required=True)
    p.add_argument("--server", action="append", default=[],
                   help="NAME=PORT, in order")
    a = p.parse_args()
    servers = {}
    for item in a.server:
        name, _, port = item.partition("=")
        if not name or not port.isdigit():
            fail("--server %s: expected NAME=PORT" % item)
        servers[name] = int(port)
    with open(a.config, encoding="utf-8") as f:
        text = f.read()
    ports = {"writes": a.writes, "reads": a.reads, "stats": a.stats}
    sys.stdout.write(rewrite(text, a.cluster, a.agent, ports, servers))


if __name__ == "__main__":
    main()
