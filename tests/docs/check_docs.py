#!/usr/bin/env python3
"""The README and docs/ hold together (ctest label `unit`):

  - README.md has at most 300 lines (what the agent is, how to run it, a
    minimal config, where to read on; reference detail lives in docs/);
  - every relative link and image in README.md and docs/*.md points at a
    file or directory that exists, and a link with an #anchor into a
    Markdown file at a heading (or <a id=...>) that exists, as GitHub names
    it;
  - every page of docs/ is linked from the README (its table of docs), so
    that every moved fact can be found from there.

  check_docs.py [REPO]     exit 0 when all hold, 1 with one line per problem
"""
import os
import re
import sys

README_MAX_LINES = 300
FENCE = re.compile(r"^\s*(```+|~~~+)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.I)
# [text](target) and ![alt](target); the text may hold `code` and nested
# brackets one level deep.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")


def prose_lines(text):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for n, line in enumerate(text.split("\n"), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * 3
                continue
            if line.strip().startswith(fence):
                fence = None
                continue
        if fence is None:
            yield n, line


def slug(heading):
    """GitHub's anchor for a heading's text."""
    s = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links: their text
    s = re.sub(r"<[^>]+>", "", s)  # inline HTML
    s = s.strip().lower().replace("`", "")
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors(text):
    seen = {}
    out = set()
    for _, line in prose_lines(text):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
        for a in HTML_ANCHOR.findall(line):
            out.add(a)
    return out


def links(text):
    """(line number, target) of every link outside code."""
    for n, line in prose_lines(text):
        line = INLINE_CODE.sub("", line)
        for m in LINK.finditer(line):
            yield n, m.group(1)


def check(repo):
    problems = []
    # Absolute, so that a page reached by a link ("../README.md") has the
    # same name as the page read up front ("./README.md" was another).
    repo = os.path.abspath(repo)
    readme = os.path.join(repo, "README.md")
    docs_dir = os.path.join(repo, "docs")
    pages = [os.path.join(docs_dir, f) for f in sorted(os.listdir(docs_dir))
             if f.endswith(".md")]
    texts = {}
    for path in [readme] + pages:
        with open(path, encoding="utf-8") as f:
            texts[path] = f.read()
    anchor_cache = {}

    def anchors_of(path):
        if path not in anchor_cache:
            if path not in texts:
                with open(path, encoding="utf-8") as f:
                    texts[path] = f.read()
            anchor_cache[path] = anchors(texts[path])
        return anchor_cache[path]

    lines = texts[readme].count("\n")
    if lines > README_MAX_LINES:
        problems.append(f"README.md: {lines} lines, more than {README_MAX_LINES}: "
                        "move reference detail to docs/ and link it")

    linked_from_readme = set()
    for path, text in list(texts.items()):  # anchors_of() may add more
        name = os.path.relpath(path, repo)
        for n, target in links(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue  # http:, https:, mailto:
            file_part, _, anchor = target.partition("#")
            dest = (os.path.normpath(os.path.join(os.path.dirname(path), file_part))
                    if file_part else path)
            where = f"{name}:{n}: {target}"
            if file_part.endswith("/"):
                if not os.path.isdir(dest):
                    problems.append(f"{where}: no directory {os.path.relpath(dest, repo)}")
                    continue
            elif not os.path.exists(dest):
                problems.append(f"{where}: no file {os.path.relpath(dest, repo)}")
                continue
            if path == readme:
                linked_from_readme.add(dest)
            if anchor:
                if not dest.endswith(".md") or os.path.isdir(dest):
                    problems.append(f"{where}: an #anchor into a file that is not Markdown")
                elif anchor not in anchors_of(dest):
                    problems.append(f"{where}: {os.path.relpath(dest, repo)} has no "
                                    f"heading or anchor '{anchor}'")
    for page in pages:
        if page not in linked_from_readme:
            problems.append(f"README.md: docs/{os.path.basename(page)} is not in its "
                            "table of docs")
    return problems, lines, len(pages)


def main(argv):
    repo = argv[1] if len(argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    problems, lines, pages = check(repo)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"README.md: {lines} lines; README and {pages} docs pages: "
          "every relative link and anchor resolves, every page is linked")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
