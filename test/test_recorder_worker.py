"""RecorderWorker: the bounded queue, one clock for images and events, sessions per timeline (no ROS)."""
from __future__ import annotations

import dataclasses
import itertools
import threading
import time

import numpy as np
import pytest
from conftest import EVT3_BAG

from seal_ros.events.source import IngestConfig
from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader
from seal_ros.recorder.reader import PairsDataset, validate
from seal_ros.recorder.session import RecorderConfig
from seal_ros.recorder.worker import RecorderWorker


@pytest.fixture(scope="module")
def packets():
    return list(itertools.islice(BagReader(EVT3_BAG).event_packets(), 200))


@pytest.fixture
def worker():
    w = RecorderWorker()
    yield w
    w.shutdown()


def test_the_queue_is_bounded_and_what_it_drops_is_counted(tmp_path, packets):
    gate = threading.Event()
    w = RecorderWorker(max_queue_bytes=40 * (2768 + 512))  # room for about 40 packets of this bag
    step = w._step
    w._step = lambda item, last: (gate.wait(), step(item, last))[1]  # the writer is stuck (a slow disk)
    try:
        w.start(tmp_path, "q", RecorderConfig(), IngestConfig(stamp_source="sensor"))
        for p in packets[:100]:
            w.put_packet(p)
        for k in range(3):
            w.put_image(10**9 + k, np.zeros((480, 640), np.uint8))  # 300 kB each: no room
        c = w.counters()
        kept = 100 - c["dropped_queue_full_packets"]
        assert 30 < kept < 60 and c["dropped_queue_full_images"] == 3 and c["packets_in"] == 100
        assert w.queued_bytes <= w.max_queue_bytes
        gate.set()
        while w.queued_bytes:  # the writer catches up
            time.sleep(0.01)
        w.put_packet(packets[100])  # after the gap: the dropped packets show as lost ones too
        s = w.stop()
    finally:
        gate.set()
        w.shutdown()
    c = w.counters()
    assert s["lost_packets"] == c["lost_packets"] == 100 - kept
    stream = EventStream()
    expected = sum(len(stream.push(p).events) for p in packets[:kept] + packets[100:101])
    assert s["events_written"] == expected and w.queued_bytes == 0


def test_images_in_ros_time_pair_in_the_event_clock(tmp_path, worker, packets):
    stream = EventStream()
    evs = [stream.push(p).events for p in packets]
    offset = min(p.stamp_ns - int(e.t[0]) for p, e in zip(packets, evs) if len(e))
    ev = EventArray.concatenate(evs)
    worker.start(tmp_path, "c", RecorderConfig(window_ms=20.0, reorder_ms=0.0), IngestConfig())
    stamps = list(range(int(ev.t[0]) + 30_000_000, int(ev.t[-1]) - 30_000_000, 40_000_000))
    worker.put_image(stamps[0] + offset, np.zeros((4, 4), np.uint8))  # before any packet: no clock yet
    j = 1
    for p, e in zip(packets, evs):
        worker.put_packet(p)
        while j < len(stamps) and len(e) and stamps[j] < int(e.t[-1]):
            worker.put_image(stamps[j] + offset, np.full((4, 4), j, np.uint8))  # header stamp: ROS time
            j += 1
    worker.put_image(int(ev.t[-1]) + 3600 * 10**9 + offset, np.zeros((4, 4), np.uint8))  # an hour off
    s = worker.stop()
    assert s["skips"] == {"before_clock": 1, "off_timeline": 1}
    summary = validate(tmp_path / "c")
    assert summary["valid"], summary["problems"]
    with PairsDataset(tmp_path / "c") as ds:
        assert len(ds.pairs) == len(stamps) - 1
        tu = ev.t // 1000
        for p, st in zip(ds.pairs, stamps[1:]):
            # mapped back with the estimate of the moment: at most the jitter of the header delay off
            assert 0 <= st // 1000 - p["image_t_us"] < 5000
            assert p["event_count"] == int(((tu >= p["t0_us"]) & (tu < p["t1_us"])).sum())
        assert ds.meta["clock"] == dict(stamp_source="header", ros_minus_event_ns=offset)


def test_a_time_jump_back_ends_the_session_and_the_next_one_continues(tmp_path, worker, packets):
    late = [dataclasses.replace(p, time_base=p.time_base + 20 * 10**9) for p in packets[:100]]
    worker.start(tmp_path, "j", RecorderConfig(), IngestConfig(stamp_source="sensor"))
    for p in late + packets[100:]:  # seq goes on, event time goes back 20 s
        worker.put_packet(p)
    s = worker.stop()
    c = worker.counters()
    assert c["time_jumps"] == 1 and c["max_time_jump_s"] == pytest.approx(20.0, abs=0.05) and c["sessions"] == 2
    a, b = validate(tmp_path / "j"), validate(tmp_path / "j_1")
    assert a["stop_reason"] == "time_jump" and b["stop_reason"] == "stopped" and s["path"] == str(tmp_path / "j_1")
    stream = EventStream()
    n = [len(stream.push(p).events) for p in packets]
    assert (a["events"], b["events"]) == (sum(n[:100]), sum(n[100:]))  # nothing dropped as out of order
