"""Evaluation reports: a JSON file and a PNG bar chart of per-class results."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _clean(obj):
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return None if math.isnan(float(obj)) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(report: dict, path) -> Path:
    """Write ``report`` as JSON (NaN becomes null) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(report), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def plot_per_class(report: dict, path, title: str = "") -> Path:
    """Grouped bars: per class, SEAL AP / AP50 / AP25 and COCO AP when present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seal = report["seal"]["per_class"]
    coco = report.get("coco", {}).get("per_class", {})
    names = list(seal)
    series = [("SEAL AP", [seal[n]["AP"] for n in names]),
              ("SEAL AP50", [seal[n]["AP50"] for n in names]),
              ("SEAL AP25", [seal[n]["AP25"] for n in names])]
    if coco:
        series.append(("COCO AP", [coco.get(n, {}).get("AP", float("nan")) for n in names]))
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.0))
    for i, (label, vals) in enumerate(series):
        vals = np.nan_to_num(np.asarray(vals, dtype=float), nan=0.0) * 100
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=label)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("AP (%)")
    ax.set_ylim(0, 100)
    s = report["seal"]
    ax.set_title(title or f"mAP {100 * (s['mAP'] or 0):.1f}  AP50 {100 * (s['mAP50'] or 0):.1f}"
                          f"  AP25 {100 * (s['mAP25'] or 0):.1f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
