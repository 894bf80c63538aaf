#!/usr/bin/env python3
"""Reading Prophesee RAW files through the recording registry, against PyPI ``expelliarmus`` in the same run.

    python -m bench.bench_recordings            # default run (< ~30 s)
    python bench/bench_recordings.py --copies 40 --repeat 5
    seal-ros bench recordings

The shared RAW samples (``../shared/data/prophesee_raw``) are concatenated
``--copies`` times after their header into a temporary file (a larger file,
the same real words). Each reader goes from the file on disk to all its
events in memory as numpy arrays, best of ``--repeat`` interleaved runs:

* ours: ``open_recording(path)`` and every chunk of ``chunks()`` (streamed
  in blocks of ``--chunk-events`` words; triggers too), the registry's path
  for every command;
* ``expelliarmus`` (C, 1.1.12): ``Wizard(encoding).read()`` (one structured
  array of the whole file, its fastest mode) and ``read_chunk()`` streaming.

Prints the events each decoded (they must agree in number and in x, y, p;
the EVT 3.0 times differ by design, see docs/events.md), the times and the
ratio expelliarmus / ours (target: >= 1.0 on EVT 3.0).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from seal_ros.io.formats.raw import read_header  # noqa: E402
from seal_ros.io.recordings import open_recording  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "prophesee_raw"
TARGET = 1.0


def make_file(src: Path, copies: int, folder: Path) -> Path:
    with open(src, "rb") as f:
        _, off = read_header(f)
    raw = src.read_bytes()
    out = folder / f"{src.stem}_x{copies}.raw"
    with open(out, "wb") as f:
        f.write(raw[:off])
        for _ in range(copies):
            f.write(raw[off:])
    return out


def ours(path: Path, chunk_events: int):
    def run():
        rec = open_recording(path, chunk_events=chunk_events)
        parts = [c.events for c in rec.chunks()]
        return (sum(len(p) for p in parts), np.concatenate([p.x for p in parts]),
                np.concatenate([p.p for p in parts]))
    return run


class _quiet_stderr:
    """expelliarmus' C code prints a warning line per non-monotonic read to fd 2: keep the report readable."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        self.null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.null, 2)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.null)


def expelliarmus_read(path: Path, encoding: str):
    from expelliarmus import Wizard

    def run():
        with _quiet_stderr():
            a = Wizard(encoding=encoding, fpath=str(path)).read()
        return len(a), a["x"], a["p"]
    return run


def expelliarmus_chunks(path: Path, encoding: str, chunk_events: int):
    from expelliarmus import Wizard

    def run():
        with _quiet_stderr():
            w = Wizard(encoding=encoding, fpath=str(path), chunk_size=chunk_events)
            parts = list(w.read_chunk())
        x, p = (np.concatenate([a[k] for a in parts]) for k in ("x", "p"))
        return sum(len(a) for a in parts), x, p
    return run


def measure(fns: dict, repeat: int) -> dict:
    times = {k: [] for k in fns}
    out = {}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            out[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return {k: (min(v), statistics.median(v), out[k]) for k, v in times.items()}


def bench_file(src: Path, encoding: str, copies: int, repeat: int, chunk_events: int, folder: Path) -> bool:
    path = make_file(src, copies, folder)
    fns = {"ours (registry)": ours(path, chunk_events)}
    try:
        import expelliarmus  # noqa: F401

        fns["expelliarmus read()"] = expelliarmus_read(path, encoding)
        fns["expelliarmus read_chunk()"] = expelliarmus_chunks(path, encoding, chunk_events)
    except ImportError:
        print("   (expelliarmus not installed: no peer; pip install expelliarmus==1.1.12)")
    ours(make_file(src, 1, folder), chunk_events)()  # JIT and imports outside the timing
    res = measure(fns, repeat)
    n, x, p = res["ours (registry)"][2]
    mb = path.stat().st_size / 1e6
    print(f"-- {encoding.upper()} RAW: {src.name} x{copies}, {mb:.1f} MB, {n:,} events, best of {repeat}")
    for k, (best, med, (m, xx, pp)) in res.items():
        same = "same events" if m == n and np.array_equal(xx, x) and np.array_equal(pp, p) else "DIFFERENT events"
        print(f"   {k:<26} best {best * 1e3:8.1f} ms  median {med * 1e3:8.1f} ms  {n / best / 1e6:7.1f} M ev/s  "
              f"{mb / best:7.1f} MB/s  {same}")
    if "expelliarmus read()" not in res:
        return True
    ratio = res["expelliarmus read()"][0] / res["ours (registry)"][0]
    ratio_c = res["expelliarmus read_chunk()"][0] / res["ours (registry)"][0]
    ok = ratio >= TARGET
    print(f"   ratio expelliarmus read() / ours: {ratio:.2f}x (read_chunk(): {ratio_c:.2f}x); "
          f"target >= {TARGET:.1f}x {'met' if ok else 'NOT met'}")
    return ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="bench_recordings", description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=20, help="copies of each sample's words in the file (default 20)")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved runs, best is reported (default 5)")
    ap.add_argument("--chunk-events", type=int, default=1 << 18, help="our chunk size and expelliarmus' (default 2^18)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_recordings_") as tmp:
        ok = bench_file(DATA / "evt3_sample.raw", "evt3", a.copies, a.repeat, a.chunk_events, Path(tmp))
        bench_file(DATA / "evt2_sample.raw", "evt2", a.copies, a.repeat, a.chunk_events, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
