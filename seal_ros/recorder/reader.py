"""Reading a recorded pairs dataset (no ROS).

``open_dataset(dir)`` / ``PairsDataset`` open a session directory written by
the recorder (also one whose writer was killed: ``events.h5`` is then read in
SWMR mode, and a torn last line of ``pairs.jsonl`` is ignored).
``PairDataset`` is the training-side view: item ``i`` is
``(image uint8, EventArray of the pair's window (t in ns), metadata dict)``.
``validate(dir)`` checks every listed pair and returns a JSON-able summary.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from seal_ros.events.types import EventArray
from seal_ros.recorder.h5util import open_events_h5, status_flags


class DatasetError(Exception):
    """A directory that is not a readable pairs dataset; the message says why."""


def read_pairs(path) -> tuple[list[dict], int]:
    """(pairs, number of unparsable lines); a torn last line is dropped silently, others counted."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: missing")
    raw = p.read_bytes()
    lines = raw.split(b"\n")
    torn = lines.pop() if lines else b""  # text after the last newline: never completed
    pairs, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            pairs.append(json.loads(line))
        except ValueError:
            bad += 1
    if torn.strip():
        try:  # a complete object missing only its newline still counts
            pairs.append(json.loads(torn))
        except ValueError:
            pass
    return pairs, bad


def read_image(path) -> np.ndarray:
    """A PNG as uint8 HxW (gray) or HxWx3 (RGB)."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DatasetError(f"{path}: missing or not a readable PNG")
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., 2::-1])
    return img


class PairsDataset:
    """Random access to one session directory's pairs (open/close or use as a context manager)."""

    def __init__(self, root):
        self.root = Path(root)
        if not (self.root / "pairs.jsonl").exists():
            raise DatasetError(f"{self.root}: no pairs.jsonl (not a pairs dataset)")
        self.meta = {}
        if (self.root / "meta.json").exists():
            try:
                self.meta = json.loads((self.root / "meta.json").read_text())
            except ValueError:
                self.meta = {}
        self.pairs, self.bad_lines = read_pairs(self.root / "pairs.jsonl")
        self._h5 = None
        h5 = self.root / "events" / "events.h5"
        self.unclosed = False
        if h5.exists():
            try:
                self._h5 = open_events_h5(h5)
                self.unclosed = status_flags(h5) != 0
            except OSError as exc:
                if self.pairs:
                    raise DatasetError(f"{h5}: cannot open ({exc})") from None
                # killed while creating the file: no pair can refer to it, the dataset is just empty
                self._h5 = None
        elif self.pairs:
            raise DatasetError(f"{h5}: missing but pairs.jsonl lists {len(self.pairs)} pairs")
        self.t_offset = int(self._h5["t_offset"][()]) if self._h5 is not None else 0
        self.width = int(self.meta.get("width", 0)) or (int(self._h5.attrs.get("width", 0)) if self._h5 else 0)
        self.height = int(self.meta.get("height", 0)) or (int(self._h5.attrs.get("height", 0)) if self._h5 else 0)

    def close(self) -> None:
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def num_events(self) -> int:
        return 0 if self._h5 is None else int(self._h5["events/t"].shape[0])

    def events(self, i0: int, i1: int) -> EventArray:
        """Stored events ``[i0, i1)``; times back in absolute ns."""
        if i1 <= i0 or self._h5 is None:
            return EventArray.empty()
        g = self._h5["events"]
        t = (g["t"][i0:i1].astype(np.int64) + self.t_offset) * 1000
        return EventArray(g["x"][i0:i1], g["y"][i0:i1], g["p"][i0:i1], t)

    def image(self, i: int) -> np.ndarray:
        return read_image(self.root / self.pairs[i]["image"])

    def pair(self, i: int) -> tuple[np.ndarray, EventArray, dict]:
        meta = self.pairs[i]
        i0, i1 = meta["event_index"]
        return self.image(i), self.events(i0, i1), meta


class PairDataset:
    """Training view over one or more session directories: ``(image, events, meta)`` per item.

    Opens files lazily (per process), so it can be used with ``torch.utils.data.DataLoader`` workers.
    ``flags_ok`` (optional) filters pairs by their metadata, e.g. ``lambda m: not m["flags"]["lost_packets"]``.
    """

    def __init__(self, roots, flags_ok=None):
        if isinstance(roots, (str, Path)):
            roots = [roots]
        self.roots = [Path(r) for r in roots]
        self._index: list[tuple[int, int]] = []
        self.sizes = []
        for k, root in enumerate(self.roots):
            with PairsDataset(root) as ds:
                self.sizes.append((ds.width, ds.height))
                for i, m in enumerate(ds.pairs):
                    if flags_ok is None or flags_ok(m):
                        self._index.append((k, i))
        self._open: dict[int, PairsDataset] = {}

    def __len__(self) -> int:
        return len(self._index)

    def _ds(self, k: int) -> PairsDataset:
        if k not in self._open:
            self._open[k] = PairsDataset(self.roots[k])
        return self._open[k]

    def __getitem__(self, idx: int):
        k, i = self._index[idx]
        img, ev, meta = self._ds(k).pair(i)
        meta = dict(meta, dataset=str(self.roots[k]), width=self.sizes[k][0], height=self.sizes[k][1])
        return img, ev, meta

    def __getstate__(self):  # DataLoader workers reopen their own files
        state = dict(self.__dict__)
        state["_open"] = {}
        return state

    def close(self) -> None:
        for ds in self._open.values():
            ds.close()
        self._open.clear()


def coordinate_problems(ds: PairsDataset, chunk: int = 1 << 20) -> list[str]:
    """Stored events whose x/y do not fit the stored sensor size (read in chunks: bounded memory)."""
    if ds._h5 is None or not ds.num_events:
        return []
    if ds.width <= 0 or ds.height <= 0:
        return [f"{ds.num_events} events stored but no sensor size (meta.json width/height)"]
    g = ds._h5["events"]
    bad_x = bad_y = 0
    for i in range(0, ds.num_events, chunk):
        bad_x += int((g["x"][i:i + chunk] >= ds.width).sum())
        bad_y += int((g["y"][i:i + chunk] >= ds.height).sum())
    out = []
    if bad_x:
        out.append(f"{bad_x} stored events have x >= the stored width {ds.width}")
    if bad_y:
        out.append(f"{bad_y} stored events have y >= the stored height {ds.height}")
    return out


def validate(root, check_images: bool = True) -> dict:
    """Check every listed pair (image readable, index range inside the stored events and inside
    its window, count consistent) and return a summary; ``problems`` lists what is wrong."""
    problems: list[str] = []
    with PairsDataset(root) as ds:
        n_ev = ds.num_events
        t = ds._h5["events/t"] if ds._h5 is not None else None
        counts, flags = [], {"lost_packets": 0, "image_dropped": 0, "exposure_known": 0, "empty": 0, "stalled": 0}
        prev_t: Optional[int] = None
        for k, m in enumerate(ds.pairs):
            try:
                i0, i1 = (int(v) for v in m["event_index"])
                t0, t1 = int(m["t0_us"]) - ds.t_offset, int(m["t1_us"]) - ds.t_offset
                if not 0 <= i0 <= i1 <= n_ev:
                    problems.append(f"pair {k}: event range [{i0}, {i1}) outside the {n_ev} stored events")
                    continue
                if i1 - i0 != int(m["event_count"]):
                    problems.append(f"pair {k}: event_count {m['event_count']} != range size {i1 - i0}")
                if t is not None and i1 > i0:
                    first, last = int(t[i0]), int(t[i1 - 1])
                    if first < t0 or last >= t1:
                        problems.append(f"pair {k}: events at [{first}, {last}] us fall outside [{t0}, {t1})")
                    if (i0 > 0 and int(t[i0 - 1]) >= t0) or (i1 < n_ev and int(t[i1]) < t1):
                        problems.append(f"pair {k}: the range misses events of its window")
                if check_images:
                    img = ds.image(k)
                    if img.size == 0:
                        problems.append(f"pair {k}: empty image")
                if prev_t is not None and int(m["image_t_us"]) <= prev_t:
                    problems.append(f"pair {k}: image time not increasing")
                prev_t = int(m["image_t_us"])
                counts.append(i1 - i0)
                for f in flags:
                    flags[f] += bool(m["flags"].get(f))
            except DatasetError as exc:
                problems.append(f"pair {k}: {exc}")
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"pair {k}: malformed record ({exc!r})")
        if ds.bad_lines:
            problems.append(f"{ds.bad_lines} unparsable lines in pairs.jsonl")
        problems += coordinate_problems(ds)
        counts_a = np.asarray(counts, np.int64)
        return dict(
            path=str(ds.root), valid=not problems, pairs=len(ds.pairs), events=n_ev,
            width=ds.width, height=ds.height, t_offset_us=ds.t_offset,
            unclosed=ds.unclosed, stop_reason=ds.meta.get("stop_reason"),
            duration_s=(float(t[-1]) / 1e6 if t is not None and n_ev else 0.0),
            events_per_pair=dict(min=int(counts_a.min()), mean=float(counts_a.mean()), max=int(counts_a.max()))
            if len(counts_a) else None,
            flags=flags, problems=problems[:50], problem_count=len(problems),
        )
