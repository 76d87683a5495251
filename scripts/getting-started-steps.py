#!/usr/bin/env python3
"""The shell steps of docs/getting-started.md, for running it word for word.

Every ```sh block of the guide carries a marker on the line before it:
  <!-- run -->                 a step: CI runs it, in order, in one shell
  <!-- settings: ... -->       the reader's servers: CI puts its own in place
                               (the first sh block, and only that one)
An unmarked sh block is an error, so that no step is skipped unnoticed.

  getting-started-steps.py check [GUIDE]
      The guide's shape (markers, one settings block, variables), the shipped
      files it names exist in the repository, and `bash -n` of the script.
  getting-started-steps.py script SETTINGS_FILE OUT [GUIDE]
      Writes OUT: a bash script that sources SETTINGS_FILE where the settings
      block stands (failing when it leaves one of the guide's variables
      unset), then runs each step in order under `set -e`, printing
      "=== step N (docs/getting-started.md:LINE)" before it and
      "ok getting-started step N" after; a failing step prints
      "FAILED getting-started step N ..." and ends the script non-zero.
  getting-started-steps.py shipped [GUIDE]
      "INSTALLED_PATH REPO_PATH" for each file of the package the guide names
      (rules, dashboards, example configs): what a test compares after the
      install.
GUIDE defaults to docs/getting-started.md of this repository.
"""
import os
import re
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(REPO, "docs", "getting-started.md")
# Where the package installs what it ships (packaging/cpack.cmake), and
# where each comes from in the repository.
SHIPPED = [
    (r"/usr/share/pg_replica_exporter/rules/([\w.-]+)", "rules/{}"),
    (r"/usr/share/pg_replica_exporter/dashboards/([\w.-]+\.json)", "dashboards/{}"),
    (r"/usr/share/doc/pg-replica-exporter/examples/systemd/([\w.-]+)",
     "packaging/systemd/{}"),
    (r"/usr/share/doc/pg-replica-exporter/examples/([\w.-]+\.(?:yml|example))",
     "config/{}"),
]
MARKER = re.compile(r"^<!--\s*(run|settings)\b.*-->\s*$")


class GuideError(Exception):
    pass


def blocks(text):
    """[(kind, line, body)] of the guide's sh blocks, in order."""
    out = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = re.match(r"^(```+)\s*(\S*)\s*$", line)
        if not fence:
            i += 1
            continue
        ticks, info = fence.group(1), fence.group(2)
        j = i + 1
        while j < len(lines) and lines[j].strip() != ticks:
            j += 1
        if j == len(lines):
            raise GuideError(f"line {i + 1}: a code block that never ends")
        if info in ("sh", "bash", "shell", "console"):
            marker = MARKER.match(lines[i - 1]) if i > 0 else None
            if info != "sh":
                raise GuideError(f"line {i + 1}: shell blocks are ```sh")
            if not marker:
                raise GuideError(
                    f"line {i + 1}: a sh block without <!-- run --> or "
                    "<!-- settings: ... --> on the line before it")
            out.append((marker.group(1), i + 2, "\n".join(lines[i + 1:j])))
        i = j + 1
    return out


def parse(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    steps = blocks(text)
    kinds = [k for k, _, _ in steps]
    if kinds.count("settings") != 1 or kinds[0] != "settings":
        raise GuideError("the first sh block, and only it, is the settings block")
    if kinds.count("run") == 0:
        raise GuideError("no step to run")
    settings = steps[0][2]
    names = re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", settings, re.M)
    if not names:
        raise GuideError("the settings block sets no variable")
    return text, names, steps[1:]


def shipped(text):
    """[(installed path, repo path)] of the package's files the guide names."""
    out = []
    for pattern, repo in SHIPPED:
        for m in re.finditer(pattern, text):
            pair = (m.group(0), repo.format(m.group(1)))
            if pair not in out:
                out.append(pair)
    return out


def script(names, steps, settings_file, guide_name):
    out = [
        "#!/bin/bash",
        f"# Generated from {guide_name} by scripts/getting-started-steps.py:",
        "# its sh blocks in order, the settings block replaced.",
        "set -e",
        "step=settings line=0",
        "trap 'echo \"FAILED getting-started step $step "
        f"({guide_name}:$line): exit $?\"' ERR",
        f"source {sh_quote(settings_file)}",
        "for v in " + " ".join(names) + "; do",
        "  if [[ -z ${!v:-} ]]; then",
        f"    echo \"FAILED getting-started settings: {settings_file} leaves $v unset\"",
        "    exit 1",
        "  fi",
        "done",
    ]
    for n, (_, line, body) in enumerate(steps, 1):
        out += [
            "",
            f"step={n} line={line}",
            f"echo '=== step {n} ({guide_name}:{line})'",
            body,
            f"echo 'ok getting-started step {n}'",
        ]
    out += ["", "echo 'ok getting-started: every step'", ""]
    return "\n".join(out)


def sh_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def main(argv):
    if len(argv) < 2 or argv[1] not in ("check", "script", "shipped"):
        sys.stderr.write(__doc__)
        return 2
    mode = argv[1]
    args = argv[2:]
    if mode == "script":
        if len(args) not in (2, 3):
            sys.stderr.write(__doc__)
            return 2
        settings_file, out_path = args[0], args[1]
        guide = args[2] if len(args) == 3 else GUIDE
    else:
        guide = args[0] if args else GUIDE
    guide_name = os.path.relpath(guide, REPO)
    try:
        text, names, steps = parse(guide)
    except (GuideError, OSError) as e:
        print(f"{guide_name}: {e}", file=sys.stderr)
        return 1
    files = shipped(text)
    if mode == "shipped":
        for installed, repo in files:
            print(installed, repo)
        return 0
    if mode == "script":
        with open(out_path, "w", encoding="utf-8") as f:
            f.write(script(names, steps, settings_file, guide_name))
        os.chmod(out_path, 0o755)
        return 0
    # check
    bad = 0
    for installed, repo in files:
        if not os.path.isfile(os.path.join(REPO, repo)):
            print(f"{guide_name}: names {installed}, but {repo} does not exist",
                  file=sys.stderr)
            bad += 1
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(script(names, steps, "/dev/null", guide_name))
        path = f.name
    try:
        syntax = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if syntax.returncode != 0:
        print(f"{guide_name}: bash -n: {syntax.stderr.strip()}", file=sys.stderr)
        bad += 1
    if bad:
        return 1
    print(f"{guide_name}: {len(steps)} steps, settings {' '.join(names)}; "
          f"shipped files named: {', '.join(r for _, r in files) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
