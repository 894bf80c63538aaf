"""The fuzz loops: batches of hostile packets through a decoder, or through the nodes' path.

:func:`fuzz_decoder` decodes each batch with one fresh decoder (random sensor size and event cap;
the state carries from packet to packet as in a stream) and checks every packet against
:mod:`~seal_ros.fuzz.guarantees`, its CPU time (a hang guard, not a speed target: at most
:data:`CPU_BASE_NS` plus :data:`CPU_NS_PER_BYTE` a byte) and, on a sample of packets, the memory
it allocates (tracemalloc: at most :func:`alloc_bound` of the largest packet so far). It also
decodes each corpus from its start and checks that its stream's time never goes back.
:func:`fuzz_ingest` is in :mod:`~seal_ros.fuzz.ingest`.
"""
from __future__ import annotations

import time
import tracemalloc
from dataclasses import dataclass, field

import numpy as np

from seal_ros.events.decoders import make_decoder
from seal_ros.events.stream import DEFAULT_MAX_PACKET_EVENTS
from seal_ros.events.types import EventArray, TriggerArray

from .guarantees import check_batch, stream_order_problem
from .mutate import AMPLIFY, KINDS, Batch, make_batch

BATCH = 2048
CPU_BASE_NS = 100_000_000  # 0.1 s
CPU_NS_PER_BYTE = 2_000
MEMORY_SAMPLE = 64  # one packet in this many (and every amplify packet) runs under tracemalloc
MAX_PROBLEMS = 20
_EMPTY = (EventArray.empty(), TriggerArray.empty())


@dataclass
class Report:
    encoding: str
    level: str
    seed: int
    packets: int = 0
    bytes: int = 0
    events: int = 0
    triggers: int = 0
    corpora: list = field(default_factory=list)
    kinds: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)  # the first MAX_PROBLEMS, one line each
    problem_count: int = 0
    max_cpu_ms: float = 0.0  # slowest packet (thread CPU time)
    slowest: str = ""  # which packet that was
    max_alloc_ratio: float = 0.0  # largest sampled allocation / its bound
    counters: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def as_dict(self) -> dict:
        out = dict(self.__dict__)
        out["ok"] = self.ok
        out["max_cpu_ms"] = round(self.max_cpu_ms, 3)
        out["max_alloc_ratio"] = round(self.max_alloc_ratio, 3)
        out["seconds"] = round(self.seconds, 2)
        return out


def alloc_bound(dec, largest_bytes: int) -> int:
    """Bytes a decode may allocate: twice the outputs the largest packet so far could fill
    (13 bytes an event, 10 a trigger, the cap's slices), twice its payload, plus 1 MiB."""
    words = largest_bytes // dec.word_bytes
    events = dec.max_events_per_word * words
    if dec.max_events is not None:
        events = min(events, dec.max_events + dec.max_events_per_word * 4096)
    return 2 * (13 * events + 10 * words) + 2 * largest_bytes + (1 << 20)


def describe(b: Batch, i: int, corpus) -> str:
    head = b.payload(i)[:32].tobytes().hex()
    return (f"packet {i} ({KINDS[b.kinds[i]]} of {corpus.name}, {int(b.lengths[i])} bytes, time_base "
            f"{int(b.time_bases[i])}, first bytes {head})")


def pick_decoder(rng, encoding: str, corpus):
    r = rng.random()
    if r < 0.7:
        w, h = corpus.width, corpus.height
    elif r < 0.9:
        w, h = (int(v) for v in rng.integers(1, 2049, 2))
    else:
        w, h = (int(v) for v in rng.integers(1, 17, 2))
    dec = make_decoder(encoding, w, h)
    r = rng.random()
    dec.max_events = None if r < 0.6 else DEFAULT_MAX_PACKET_EVENTS if r < 0.8 else int(rng.integers(1, 5000))
    return dec


def decode_batch(dec, b: Batch, report: Report, corpus, sample, timed: bool = True) -> list:
    """Decode every packet of ``b`` in order; exceptions, CPU time (``timed``) and sampled memory reported."""
    out = [_EMPTY] * len(b)
    largest = 0
    for i in range(len(b)):
        s, n = int(b.starts[i]), int(b.lengths[i])
        payload, tb = b.buf[s: s + n], int(b.time_bases[i])
        largest = max(largest, n)
        probe = sample[i]
        if probe:
            tracemalloc.start()
            base = tracemalloc.get_traced_memory()[0]
        c0 = time.thread_time_ns()
        try:
            out[i] = dec.decode(payload, tb)
        except Exception as exc:  # noqa: BLE001 - the finding itself
            report.problem(f"{describe(b, i, corpus)}: {type(exc).__name__}: {exc}")
        cpu = time.thread_time_ns() - c0
        if probe:
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
            ratio = peak / alloc_bound(dec, largest)
            report.max_alloc_ratio = max(report.max_alloc_ratio, ratio)
            if ratio > 1:
                report.problem(f"{describe(b, i, corpus)}: allocated {peak} bytes, over the bound")
        if not timed:
            continue
        if cpu / 1e6 > report.max_cpu_ms:
            report.max_cpu_ms, report.slowest = cpu / 1e6, describe(b, i, corpus)
        if cpu > CPU_BASE_NS + CPU_NS_PER_BYTE * n:
            cpu = min(cpu, retime(dec, payload, tb))
            if cpu > CPU_BASE_NS + CPU_NS_PER_BYTE * n:
                report.problem(f"{describe(b, i, corpus)}: {cpu / 1e6:.1f} ms of CPU (the least of 4 tries)")
    return out


def retime(dec, payload, tb: int, tries: int = 3) -> int:
    """The least CPU time of decoding ``payload`` with fresh decoders like ``dec`` (a pause of the
    machine is no finding; a packet that is slow every time is)."""
    best = None
    for _ in range(tries):
        d = make_decoder(dec.encoding, dec.width, dec.height)
        d.max_events = dec.max_events
        c0 = time.thread_time_ns()
        try:
            d.decode(payload, tb)
        except Exception:  # noqa: BLE001 - reported by the first try already
            pass
        cpu = time.thread_time_ns() - c0
        best = cpu if best is None else min(best, cpu)
    return best


def check_counters(dec, out, report: Report, where: str) -> None:
    s = dec.stats
    ev = sum(len(o[0]) for o in out)
    tr = sum(len(o[1]) for o in out)
    want = dict(packets=len(out), events=ev, triggers=tr)
    got = dict(packets=s["packets"], events=s["events"], triggers=s["triggers"])
    if got != want or s["on"] + s["off"] != s["events"]:
        report.problem(f"{where}: counters {got} (on {s['on']}, off {s['off']}) for {want}")
    for k, v in s.items():
        report.counters[k] = report.counters.get(k, 0) + v


def fuzz_decoder(encoding: str, packets: int, seed: int, corpora: list, batch: int = BATCH) -> Report:
    """``packets`` mutated packets of ``corpora`` through ``encoding``'s decoder, every one checked."""
    from seal_ros.events.decoders import SUPPORTED_ENCODINGS

    t0 = time.perf_counter()
    report = Report(encoding, "decoder", seed, corpora=[c.name for c in corpora])
    rng = np.random.default_rng([seed, SUPPORTED_ENCODINGS.index(encoding), 0])
    warm_up(encoding, corpora)
    for corpus in corpora:
        check_stream(corpus, report)
    done = 0
    while done < packets:
        n = min(batch, packets - done)
        corpus = corpora[int(rng.integers(len(corpora)))]
        b = make_batch(rng, corpus, n)
        dec = pick_decoder(rng, encoding, corpus)
        sample = (rng.random(n) < 1 / MEMORY_SAMPLE) | (b.kinds == AMPLIFY)
        out = decode_batch(dec, b, report, corpus, sample)
        for i, text in check_batch(encoding, dec, b, out, dec.max_events, dec.stats["rollovers"]):
            report.problem(f"{describe(b, i, corpus)} on a {dec.width}x{dec.height} decoder: {text}")
        check_counters(dec, out, report, f"batch at packet {done}")
        for k, c in zip(*np.unique(b.kinds, return_counts=True)):
            report.kinds[KINDS[k]] = report.kinds.get(KINDS[k], 0) + int(c)
        report.packets += n
        report.bytes += int(b.lengths.sum())
        report.events += sum(len(o[0]) for o in out)
        report.triggers += sum(len(o[1]) for o in out)
        done += n
    report.seconds = time.perf_counter() - t0
    return report


def warm_up(encoding: str, corpora: list) -> None:
    """Compile (or load from numba's cache) every decoding path first: the CPU bound is no JIT bound."""
    from seal_ros.events.decoders import warm_up as compile_kernels

    compile_kernels([encoding])
    rng = np.random.default_rng(0)
    for corpus in corpora:
        for cap in (None, 100):
            dec = make_decoder(encoding, corpus.width, corpus.height)
            dec.max_events = cap
            b = make_batch(rng, corpus, 64)
            decode_batch(dec, b, Report(encoding, "warm-up", 0), corpus, np.zeros(len(b), bool), timed=False)


def check_stream(corpus, report: Report) -> None:
    """The corpus decoded from its start, as recorded: every packet checked, and time in order."""
    n = corpus.count
    lengths = np.diff(corpus.starts)
    starts = np.concatenate(([0], np.cumsum((lengths + 7) // 8 * 8)))[:-1]
    buf = np.zeros(int(starts[-1] + lengths[-1] + 8), np.uint8)
    for i in range(n):
        buf[starts[i]: starts[i] + lengths[i]] = corpus.packet(i)
    b = Batch(buf, starts, lengths, corpus.time_bases, np.zeros(n, np.int64))
    dec = make_decoder(corpus.encoding, corpus.width, corpus.height)
    out = decode_batch(dec, b, report, corpus, np.zeros(n, bool))
    for i, text in check_batch(corpus.encoding, dec, b, out, None, dec.stats["rollovers"]):
        report.problem(f"{describe(b, i, corpus)}, decoded as recorded: {text}")
    check_counters(dec, out, report, f"{corpus.name} as recorded")
    t = np.concatenate([o[0].t for o in out] + [np.zeros(0, np.int64)])
    bad = stream_order_problem(t) if corpus.ordered else None
    if bad is not None:
        report.problem(f"{corpus.name} as recorded: event {bad} is earlier than the one before it")
