"""Prompts and class lists from files, for ``seal-ros segment``.

A prompts file is JSON or YAML (YAML reads both): a list of prompts, or a
mapping whose ``prompts`` key holds that list. Each prompt::

    {"id": 1,                          # >= 1 (0 is what automatic results carry)
     "box": [x0, y0, x1, y1],          # sensor pixels, and/or
     "points": [[x, y], ...], "labels": [1, 0, ...],   # 1 foreground (default), 0 background
     "granularity": "instance",        # instance (default), part or any
     "start_s": 0.5, "end_s": 1.5}     # seconds from the recording's first event; absent: from the
                                       # start / to the end

A prompt is answered on every window that overlaps ``[start_s, end_s)``. The
same id may appear again for another time range (an object whose box moves),
but its ranges must not overlap. Every entry is checked by
:meth:`seal_ros.seal.prompt.Prompt.validated` (the one check of every prompt).

A names file (vocabulary, templates) is a YAML/JSON list, or one name a line
(blank lines and lines starting with ``#`` skipped).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.seal.prompt import Granularity, Prompt, PromptError

__all__ = ["TimedPrompt", "load_prompts", "load_names", "active_prompts"]

_KEYS = {"id", "box", "points", "labels", "granularity", "start_s", "end_s"}


@dataclass(frozen=True)
class TimedPrompt:
    prompt: Prompt
    start_s: Optional[float] = None
    end_s: Optional[float] = None

    def active(self, t0_s: float, t1_s: float) -> bool:
        """Whether the window [t0_s, t1_s) overlaps this prompt's range."""
        return (self.start_s is None or t1_s > self.start_s) and (self.end_s is None or t0_s < self.end_s)


def _read(path) -> object:
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as exc:
        raise ValueError(f"{p}: not JSON or YAML ({str(exc).splitlines()[0]})") from None


def _seconds(entry: dict, key: str, where: str) -> Optional[float]:
    v = entry.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
        raise ValueError(f"{where}: {key} must be a number of seconds, got {v!r}")
    return float(v)


def load_prompts(path) -> list[TimedPrompt]:
    """The prompts of ``path``; ValueError (one line naming the file and the entry) when one is bad."""
    data, _ = _read(path)
    items = data.get("prompts") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of prompts (or a 'prompts' key holding one)")
    out: list[TimedPrompt] = []
    for k, e in enumerate(items):
        where = f"{path}: prompt #{k}"
        if not isinstance(e, dict):
            raise ValueError(f"{where}: expected a mapping, got {type(e).__name__}")
        unknown = sorted(set(e) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
        pid = e.get("id")
        if isinstance(pid, bool) or not isinstance(pid, int) or pid < 1:
            raise ValueError(f"{where}: id must be an integer >= 1 (0 marks automatic results), got {pid!r}")
        try:
            pts = np.asarray(e["points"], np.float32).reshape(-1, 2) if e.get("points") is not None else None
            labels = np.asarray(e["labels"]) if e.get("labels") is not None else None
            prompt = Prompt(id=pid, box=tuple(e["box"]) if e.get("box") is not None else None, points=pts,
                            point_labels=labels, granularity=Granularity.parse(e.get("granularity", "instance")),
                            ).validated()
        except (PromptError, ValueError, TypeError) as exc:
            raise ValueError(f"{where}: {exc}") from None
        start, end = _seconds(e, "start_s", where), _seconds(e, "end_s", where)
        if start is not None and end is not None and end <= start:
            raise ValueError(f"{where}: end_s {end} is not after start_s {start}")
        out.append(TimedPrompt(prompt, start, end))
    by_id: dict[int, list[TimedPrompt]] = {}
    for tp in out:
        by_id.setdefault(tp.prompt.id, []).append(tp)
    for pid, tps in by_id.items():
        tps.sort(key=lambda t: -np.inf if t.start_s is None else t.start_s)
        for a, b in zip(tps, tps[1:]):
            if a.end_s is None or b.start_s is None or b.start_s < a.end_s:
                raise ValueError(f"{path}: prompt id {pid} has overlapping time ranges "
                                 f"([{a.start_s}, {a.end_s}) and [{b.start_s}, {b.end_s}))")
    return out


def load_names(path) -> list[str]:
    """Names from a YAML/JSON list, or one a line."""
    data, text = _read(path)
    if isinstance(data, list):
        if not all(isinstance(n, str) for n in data):
            raise ValueError(f"{path}: every entry of the list must be a string")
        return list(data)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def active_prompts(prompts: list[TimedPrompt], t0_s: float, t1_s: float) -> list[Prompt]:
    return [tp.prompt for tp in prompts if tp.active(t0_s, t1_s)]
