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


def class_rows(report: dict) -> list[str]:
    """The instance classes of a report, in the benchmark's order."""
    return [k for k in report["authors"] if not k.startswith("all_")]


def format_table(report: dict) -> str:
    """The authors' results table (``print_results``: AP, AP50, AP25 per class and
    their average, in %), then seal_ros's additions, labelled."""
    a, extra = report["authors"], report["seal_ros"]
    rows = [f"{report['benchmark']} ({report['prompt']} prompts"
            f"{', ' + report['point_sample'] if report.get('point_sample') else ''}), classifier: "
            f"{report['classifier']}",
            f"{'what':<15}:{'AP':>10}{'AP50':>10}{'AP25':>10}"]

    def pct(v):
        return "       n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:10.1f}"

    for name in class_rows(report):
        v = a[name]
        rows.append(f"{name:<15}:{pct(v['AP'])}{pct(v['AP50'])}{pct(v['AP25'])}")
    rows.append(f"{'average':<15}:{pct(a['all_AP'])}{pct(a['all_AP50'])}{pct(a['all_AP25'])}")
    x = extra["ap_excluding_classes_without_gt"]
    c = extra["coco_mask_ap"]
    e = extra["ap_at_event_image_resolution"]
    rows += ["seal_ros additions (not the paper's protocol):",
             f"  AP over classes with ground truth {pct(x['all_AP']).strip()}, COCO mask AP {pct(c['mAP']).strip()}"
             f" (AP50 {pct(c['mAP50']).strip()}), AP at event-image resolution {pct(e['all_AP']).strip()}",
             f"  instances {report['instances']}, scored {report['scored']}, skipped (3 empty masks) "
             f"{report['skipped_all_empty']}, vanished at model size {report['vanished']}"]
    return "\n".join(rows)


def plot_per_class(report: dict, path, title: str = "") -> Path:
    """Grouped bars: per class, the authors' AP / AP50 / AP25 and seal_ros's COCO AP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = report["authors"]
    coco = report["seal_ros"]["coco_mask_ap"]["per_class"]
    names = class_rows(report)
    series = [("AP (authors' protocol)", [a[n]["AP"] for n in names]),
              ("AP50", [a[n]["AP50"] for n in names]),
              ("AP25", [a[n]["AP25"] for n in names]),
              ("COCO mask AP (seal_ros)", [coco.get(n, {}).get("AP", float("nan")) for n in names])]
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.0))
    for i, (label, vals) in enumerate(series):
        vals = np.nan_to_num(np.asarray([np.nan if v is None else v for v in vals], dtype=float), nan=0.0) * 100
        ax.bar(x + (i - (len(series) - 1) / 2) * width, vals, width, label=label)
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("AP (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title or f"{report['benchmark']} {report['prompt']}: AP {100 * (a['all_AP'] or 0):.1f}"
                          f"  AP50 {100 * (a['all_AP50'] or 0):.1f}  AP25 {100 * (a['all_AP25'] or 0):.1f}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
