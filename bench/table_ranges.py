#!/usr/bin/env python3
"""The figure tables of several ``seal-ros bench`` runs as one table of ranges (the README's).

    scripts/with-env seal-ros bench > run1.log; scripts/with-env seal-ros bench > run2.log
    python bench/table_ranges.py run1.log run2.log

Rows are matched by their target and the words of their measurement and of what they ran at
(numbers aside; the n-th of rows alike with the n-th), in the first run's order; every number that differs between the runs becomes ``low-high``. A row that is not
in every run keeps its figures and says in which runs it is. Prints the machine lines, then the
table.
"""
from __future__ import annotations

import argparse
import re
import sys

NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")


def tables(text: str) -> tuple:
    """(machine line, [rows as lists of cells]) of the last ``== figures`` table in a run's output."""
    at = text.rfind("== figures (")
    if at < 0:
        raise SystemExit("no '== figures' table in the output")
    lines = text[at:].splitlines()
    rows = []
    for ln in lines[3:]:
        if not ln.startswith("| "):
            break
        rows.append([c.strip() for c in ln.strip()[1:-1].split(" | ")])
    return lines[0][len("== figures ("):-1], [lines[1]] + rows


def skeleton(cell: str) -> str:
    return NUMBER.sub("#", cell)


def merge_cells(cells: list) -> str:
    """One cell of several runs: its words once, each number that differs as low-high."""
    if len({skeleton(c) for c in cells}) > 1:
        return " / ".join(dict.fromkeys(cells))
    parts = [NUMBER.findall(c) for c in cells]
    words = NUMBER.split(cells[0])
    out = [words[0]]
    for i, word in enumerate(words[1:]):
        values = sorted({p[i] for p in parts}, key=lambda v: float(v.replace(",", "")))
        out.append(values[0] if len(values) == 1 else f"{values[0]}-{values[-1]}")
        out.append(word)
    return "".join(out)


def keyed(rows: list) -> dict:
    """Rows by (target, the words of what and where it ran, which of the rows with those words)."""
    out, seen = {}, {}
    for r in rows:
        words = (r[0], skeleton(r[1]), skeleton(r[2]))
        seen[words] = seen.get(words, -1) + 1
        out[words + (seen[words],)] = r
    return out


def merge(runs: list) -> list:
    header, first = runs[0][0], keyed(runs[0][1:])
    by_run = [keyed(run[1:]) for run in runs]
    out = [header, "|" + "---|" * len(header.strip().strip("|").split("|"))]
    for key, row in first.items():
        found = [k[key] for k in by_run if key in k]
        cells = [merge_cells([r[i] for r in found]) for i in range(len(row))]
        if len(found) < len(runs):
            cells[1] += f" (in {len(found)} of {len(runs)} runs)"
        out.append("| " + " | ".join(cells) + " |")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("logs", nargs="+", help="outputs of seal-ros bench")
    a = ap.parse_args(argv)
    machines, runs = [], []
    for path in a.logs:
        with open(path, encoding="utf-8", errors="replace") as f:
            machine, rows = tables(f.read())
        machines.append(machine)
        runs.append(rows)
    for m in dict.fromkeys(machines):
        print(m)
    print("\n".join(merge(runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
