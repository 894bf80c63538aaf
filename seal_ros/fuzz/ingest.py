"""Hostile packets through the nodes' path: :class:`~seal_ros.events.source.WindowSource`.

Each batch's payloads go out as EventPackets with hostile metadata too: another or an unknown
encoding, sizes from 0 to 2^32, ``seq`` that repeats, skips and goes back, header stamps that
jitter and jump; between batches the source is reset (``~/reset``) or reconfigured (a parameter
change) now and then. Checked for every push: no exception; ``error``/``warning`` None or one
string; every window's events inside its sensor, polarity 0/1, inside ``[t0, t1)`` and at most
the window cap; output stamps increase within a timeline; CPU time (the decoders' hang guard
plus what the windows take). At the end, every decoded event is in a window or a named counter:
``events = windowed + open window + held + dropped_time_outlier + dropped_overflow +
dropped_late + dropped_reconfigure``.
"""
from __future__ import annotations

import time

import numpy as np

from seal_ros.events.decoders import SUPPORTED_ENCODINGS
from seal_ros.events.packet import EventPacket
from seal_ros.events.source import IngestConfig, WindowSource

from .mutate import KINDS, make_batch
from .run import BATCH, CPU_BASE_NS, CPU_NS_PER_BYTE, Report, describe, warm_up

INGEST_BATCH = BATCH // 4
PACKET_STAMP_NS = 1_000_000


def _source(rng) -> WindowSource:
    mode = ("duration", "count", "tick")[int(rng.integers(3))]
    cfg = IngestConfig(stamp_source=("header", "sensor")[int(rng.integers(2))],
                       max_time_jump_s=float(rng.choice([0.01, 0.5, 5.0, 60.0])),
                       max_packet_events=int(rng.choice([1000, 100_000, 11_000_000])))
    return WindowSource(mode, int(rng.integers(100_000, 100_000_000)), int(rng.integers(100, 200_000)), cfg,
                        int(rng.choice([1000, 50_000, 5_000_000])))


def _packets(rng, b, corpus, state) -> list:
    """EventPackets of a batch's payloads, with hostile metadata now and then."""
    out = []
    r = rng.random((len(b), 4))
    for i in range(len(b)):
        enc = corpus.encoding
        if r[i, 0] < 0.03:
            enc = str(rng.choice(list(SUPPORTED_ENCODINGS) + ["", "evt21", "EVT3", "\x00"]))
        w, h = corpus.width, corpus.height
        if r[i, 1] < 0.03:
            w, h = (int(v) for v in rng.choice([0, 1, 17, 640, 2048, 8193, 1 << 20, 1 << 32], 2))
        step = 1
        if r[i, 2] < 0.08:
            step = int(rng.choice([0, 2, 50, -1, -(1 << 21), 1 << 40]))
        state["seq"] = max(0, state["seq"] + step)
        state["stamp"] += PACKET_STAMP_NS + int(rng.integers(-200_000, 200_000))
        if r[i, 3] < 0.01:
            state["stamp"] += int(rng.choice([-10**10, 10**10, 3600 * 10**9]))
        out.append(EventPacket(enc, w, h, state["seq"], int(b.time_bases[i]), b.payload(i),
                               max(0, state["stamp"]), "fuzz"))
    return out


def _check_window(w, src, last, report, where) -> int:
    ev = w.window.events
    if w.resync:
        last = None
    if len(ev):
        if int(ev.x.max()) >= w.width or int(ev.y.max()) >= w.height or int(ev.p.max()) > 1:
            report.problem(f"{where}: window events outside its {w.width}x{w.height} sensor")
        if int(ev.t.min()) < w.window.t0 or int(ev.t.max()) >= w.window.t1:
            report.problem(f"{where}: window events outside [t0, t1)")
    cap = src._count if src.mode == "count" else src._cap
    if len(ev) > cap:
        report.problem(f"{where}: a window of {len(ev)} events (cap {cap})")
    if last is not None and w.t1_ns <= last:
        report.problem(f"{where}: output stamp {w.t1_ns} not after {last} within one timeline")
    return w.t1_ns


def fuzz_ingest(encoding: str, packets: int, seed: int, corpora: list, batch: int = INGEST_BATCH) -> Report:
    """``packets`` hostile packets of ``corpora`` through WindowSource (see the module docstring)."""
    t0 = time.perf_counter()
    report = Report(encoding, "ingest", seed, corpora=[c.name for c in corpora])
    rng = np.random.default_rng([seed, SUPPORTED_ENCODINGS.index(encoding), 1])
    warm_up(encoding, corpora)
    src = _source(rng)
    state = {"seq": 0, "stamp": int(rng.integers(0, 1 << 60))}
    windowed = 0
    last = None
    done = 0
    while done < packets:
        n = min(batch, packets - done)
        corpus = corpora[int(rng.integers(len(corpora)))]
        b = make_batch(rng, corpus, n)
        for i, pk in enumerate(_packets(rng, b, corpus, state)):
            where = describe(b, i, corpus)
            c0 = time.thread_time_ns()
            try:
                res = src.push(pk)
                windows = res.windows + (src.tick() if src.mode == "tick" and i % 7 == 0 else [])
            except Exception as exc:  # noqa: BLE001 - the finding itself
                report.problem(f"{where}: {type(exc).__name__}: {exc}")
                continue
            cpu = time.thread_time_ns() - c0
            report.max_cpu_ms = max(report.max_cpu_ms, cpu / 1e6)
            if cpu > CPU_BASE_NS + CPU_NS_PER_BYTE * len(pk.events) + 20 * sum(len(w.window.events) for w in windows):
                report.problem(f"{where}: {cpu / 1e6:.1f} ms of CPU in push")
            for text in (res.error, res.warning, *res.notes):
                if text is not None and not (isinstance(text, str) and text):
                    report.problem(f"{where}: a message that is not a line: {text!r}")
            for w in windows:
                last = _check_window(w, src, last, report, where)
                windowed += len(w.window.events)
        r = rng.random()
        if r < 0.05:
            src.reset()
        elif r < 0.1:
            src.configure(src.mode, int(rng.integers(100_000, 100_000_000)), int(rng.integers(100, 200_000)),
                          int(rng.choice([1000, 50_000, 5_000_000])))
        for k, c in zip(*np.unique(b.kinds, return_counts=True)):
            report.kinds[KINDS[k]] = report.kinds.get(KINDS[k], 0) + int(c)
        report.packets += n
        report.bytes += int(b.lengths.sum())
        done += n
    c = src.counters()
    pending = src._windower.pending + src.ingest.guard.held_events
    kept = windowed + pending + sum(c[k] for k in ("dropped_time_outlier", "dropped_overflow", "dropped_late",
                                                   "dropped_reconfigure"))
    if kept != c["events"]:
        report.problem(f"decoded {c['events']} events, but windows and counters hold {kept}")
    report.events, report.counters = c["events"], c
    report.seconds = time.perf_counter() - t0
    return report
