"""config/perception.yaml, rendered from the nodes' own parameter specs.

The YAML is generated, never hand-edited, so it cannot drift from what the
nodes declare: ``scripts/with-env python -m seal_ros.nodes.config_yaml --write``
rewrites it, and a test fails when the file and the specs differ.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

NODES = {
    "event_reconstructor": "seal_ros.nodes.event_reconstructor",
    "seal_segmenter": "seal_ros.nodes.seal_segmenter",
    "pair_recorder": "seal_ros.nodes.pair_recorder",
}
CONFIG = Path(__file__).resolve().parents[2] / "config" / "perception.yaml"


def node_params(node: str):
    return importlib.import_module(NODES[node]).PARAMS


def _scalar(value) -> str:
    # JSON scalars and lists are valid YAML (flow style), and unambiguous.
    return json.dumps(value)


def render() -> str:
    lines = [
        "# seal_ros parameters: every parameter of every node, with its default.",
        "# Generated from the nodes' parameter specs (seal_ros/nodes/*.py PARAMS) by",
        "#   scripts/with-env python -m seal_ros.nodes.config_yaml --write",
        "# Edit values freely in a copy; a test checks this file against the code.",
    ]
    for node in NODES:
        lines.append(f"/**/{node}:")
        lines.append("  ros__parameters:")
        for spec in node_params(node):
            note = spec.description.split(". ")[0].rstrip(".")
            if spec.range is not None:
                note += f" [{spec.range[0]}, {spec.range[1]}]"
            if spec.choices:
                note += f" ({' | '.join(map(str, spec.choices))})"
            lines.append(f"    # {note}")
            lines.append(f"    {spec.name}: {_scalar(spec.default)}")
    return "\n".join(lines) + "\n"


def render_markdown(node: str) -> str:
    """The README's parameter table of ``node``."""
    rows = ["| parameter | type | default | range / choices | meaning |", "|---|---|---|---|---|"]
    for spec in node_params(node):
        kind = type(spec.default).__name__ if not isinstance(spec.default, list) else "string[]"
        limits = ""
        if spec.range is not None:
            limits = f"[{spec.range[0]}, {spec.range[1]}]"
        elif spec.choices:
            limits = ", ".join(f"`{c}`" for c in spec.choices)
        ro = " (read-only)" if spec.read_only else ""
        desc = spec.description.replace("|", "\\|")
        rows.append(f"| `{spec.name}` | {kind} | `{_scalar(spec.default)}` | {limits} | {desc}{ro} |")
    return "\n".join(rows) + "\n"


README = CONFIG.parents[1] / "README.md"


def update_readme(text: str) -> str:
    """``text`` with every ``<!-- PARAMS:node -->...<!-- /PARAMS -->`` block regenerated."""
    import re

    def block(m):
        return f"<!-- PARAMS:{m.group(1)} -->\n{render_markdown(m.group(1))}<!-- /PARAMS -->"

    return re.sub(r"<!-- PARAMS:(\w+) -->.*?<!-- /PARAMS -->", block, text, flags=re.S)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help=f"rewrite {CONFIG} and the README's parameter tables")
    ap.add_argument("--markdown", metavar="NODE", choices=list(NODES), help="print NODE's README parameter table")
    args = ap.parse_args(argv)
    if args.markdown:
        sys.stdout.write(render_markdown(args.markdown))
        return 0
    text = render()
    if args.write:
        CONFIG.write_text(text)
        README.write_text(update_readme(README.read_text()))
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
