"""Packets -> stamped windows (seal_ros.events.source): the path every node uses, on the real recordings.

Every scenario also checks the accounting: each decoded event is in a window, still
open, held, or dropped under a named counter.
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from conftest import EVT3_BAG, LIBCAER_CMP_BAG

from seal_ros.events.source import IngestConfig, PacketIngest, WindowSource
from seal_ros.events.stream import EventStream
from seal_ros.events.timeline import Batch, ClockMapper, TimeGuard
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader

D20 = 20_000_000


@pytest.fixture(scope="module")
def evt3():
    return list(itertools.islice(BagReader(EVT3_BAG).event_packets(), 200))


@pytest.fixture(scope="module")
def cmp_packets():
    return list(BagReader(LIBCAER_CMP_BAG).event_packets())


def run(src, packets):
    wins, notes = [], []
    for p in packets:
        r = src.push(p)
        assert r.error is None, r.error
        wins += r.windows
        notes += r.notes
    return wins, notes


def accounted(src, wins) -> int:
    """Events in windows + open + held + dropped by a named counter; must equal the decoded events."""
    c = src.counters()
    assert c["events"] == sum(w.count for w in wins) + src._windower.pending + c["held_events"] + sum(
        c[k] for k in ("dropped_time_outlier", "dropped_late", "dropped_overflow", "dropped_reconfigure"))
    return c["events"]


def decoded(packets):
    s = EventStream()
    return [s.push(p).events for p in packets]


def shifted(packets, start, dt_ns, seq0=None, stamp_too=False):
    """Copies of ``packets`` with the event time (``time_base``) from index ``start`` on moved by ``dt_ns``."""
    out = []
    for i, p in enumerate(packets):
        d = dt_ns if i >= start else 0
        out.append(dataclasses.replace(p, time_base=p.time_base + d, stamp_ns=p.stamp_ns + (d if stamp_too else 0)))
    return out


def test_duration_windows_in_ros_time_within_a_frame_of_the_header_stamps(evt3):
    src = WindowSource("duration", D20)  # default stamp_source: header (ROS time)
    wins, notes = run(src, evt3)
    assert len(wins) >= 20 and notes == []
    for a, b in zip(wins, wins[1:]):
        assert b.window.t0 >= a.window.t1 and (b.window.t0 - a.window.t1) % D20 == 0
        assert b.seq == a.seq + 1 and b.t1_ns > a.t1_ns
    ev = decoded(evt3)
    firsts = [(p.stamp_ns, int(e.t[0])) for p, e in zip(evt3, ev) if len(e)]
    offset = min(s - t for s, t in firsts)  # 2.08 s of recording: the whole bag is inside the 10 s horizon
    assert src.mapper.offset == offset
    assert src.counters()["clock_offset_s"] == pytest.approx(offset / 1e9, abs=1e-6)
    for w in wins:
        # mapped with the estimate of the moment: the smallest delay seen so far, never below the final one
        late = w.t1_ns - (w.window.t1 + offset)
        assert 0 <= late < 5_000_000 and w.t1_ns - w.t0_ns == D20
        assert (w.width, w.height) == (640, 480) and not w.resync
        # the packet holding the window's last events was stamped within a frame period of the window end
        k = max(i for i, (s, t) in enumerate(firsts) if t < w.window.t1)
        assert abs(w.t1_ns - firsts[k][0]) < D20
    assert wins[-1].t1_ns == wins[-1].window.t1 + offset
    accounted(src, wins)


def test_count_windows_in_the_sensor_clock(evt3):
    src = WindowSource("count", count=5000, config=IngestConfig(stamp_source="sensor"))
    wins, _ = run(src, evt3)
    assert wins and all(w.count == 5000 for w in wins)
    assert all((w.t0_ns, w.t1_ns) == (w.window.t0, w.window.t1) for w in wins)
    accounted(src, wins)


def test_clock_mapper_is_a_sliding_minimum_that_follows_drift():
    m = ClockMapper("header", horizon_ns=1000)
    m.observe(1_000_500, 500)  # offset 1_000_000
    m.observe(1_000_700, 600)  # 1_000_100: more transport delay, ignored
    assert m.offset == 1_000_000 and m(10) == 1_000_010 and m.to_sensor(1_000_010) == 10
    m.observe(1_000_650, 700)  # 999_950: less delay, taken
    assert m.offset == 999_950
    # the sensor clock runs slow: the smallest difference grows; after the horizon the old minimum expires
    m.observe(1_003_000, 1800)
    assert m.offset == 1_001_200
    m.reset()
    assert m.offset is None and m(10) == 10 and m.to_sensor(5) is None
    assert ClockMapper("sensor")(10) == 10 and ClockMapper("sensor").to_sensor(7) == 7
    with pytest.raises(ValueError):
        ClockMapper("wall")


def test_played_twice_gives_windows_from_both_passes(evt3):
    src = WindowSource("duration", D20)
    wins, notes = run(src, evt3 + evt3)  # the same seqs again: a bag played twice
    c = src.counters()
    assert c["restarts"] == 1 and c["time_jumps"] == 0 and len(notes) == 1 and "new stream" in notes[0]
    (k,) = [i for i, w in enumerate(wins) if w.resync]
    assert wins[k].resync == "restart" and k > 10 and len(wins) - k > 10
    assert [w.window.t0 for w in wins[:k]][:5] == [w.window.t0 for w in wins[k:]][:5]  # the same grid again
    assert wins[k].t1_ns < wins[k - 1].t1_ns  # stamps start again with the stream
    # the last (partial) window of the first pass was emitted, not lost
    n1 = sum(len(e) for e in decoded(evt3))
    assert sum(w.count for w in wins[:k]) == n1
    assert accounted(src, wins) == 2 * n1


def test_a_packet_an_hour_ahead_is_dropped_and_costs_the_in_order_data_nothing(evt3):
    bad = dataclasses.replace(evt3[100], time_base=evt3[100].time_base + 3600 * 10**9)
    stream = evt3[:100] + [bad] + evt3[101:]
    src = WindowSource("duration", D20)
    wins, notes = run(src, stream)
    c = src.counters()
    ev = decoded(stream)
    assert c["time_outlier_packets"] == 1 and c["dropped_time_outlier"] == len(ev[100]) > 0
    assert c["time_jumps"] == 0 and c["dropped_late"] == 0 and not any(w.resync for w in wins)
    assert len(notes) == 1 and "+3600.0" in notes[0]
    kept = sum(w.count for w in wins) + src._windower.pending
    assert kept == sum(len(e) for e in ev) - len(ev[100])  # every other event
    # the same windows as without the outlier, except the one that held its events
    ref_wins, _ = run(WindowSource("duration", D20), evt3[:100] + evt3[101:])
    assert [w.window.t0 for w in wins] == [w.window.t0 for w in ref_wins]
    accounted(src, wins)


@pytest.mark.parametrize("dt_s", [-10.0, 30.0])
def test_a_real_jump_is_counted_with_its_size_and_resynchronised(evt3, dt_s):
    base = shifted(evt3, 0, 20 * 10**9)  # 20 s up first: time_base cannot go below 0
    stream = shifted(base, 100, int(dt_s * 1e9))
    src = WindowSource("duration", D20)
    wins, notes = run(src, stream)
    c = src.counters()
    assert c["time_jumps"] == 1 and c["time_outlier_packets"] == 0 and c["dropped_time_outlier"] == 0
    assert c["max_time_jump_s"] == pytest.approx(abs(dt_s), abs=0.01)
    assert c["last_time_jump_s"] == pytest.approx(dt_s, abs=0.01)
    assert len(notes) == 1 and ("back" if dt_s < 0 else "forward") in notes[0]
    (k,) = [i for i, w in enumerate(wins) if w.resync]
    assert wins[k].resync == "time_jump"
    assert sum(w.count for w in wins) + src._windower.pending == sum(len(e) for e in decoded(stream))  # all kept
    accounted(src, wins)


def test_a_silence_is_no_jump_when_the_header_stamps_advance_alike(evt3):
    stream = shifted(evt3, 100, 30 * 10**9, stamp_too=True)
    src = WindowSource("duration", D20)
    wins, notes = run(src, stream)
    c = src.counters()
    assert c["time_jumps"] == 0 and c["time_outlier_packets"] == 0 and notes == []
    assert not any(w.resync for w in wins)
    accounted(src, wins)


def test_random_packets_in_a_real_stream_cost_the_good_data_after_them_nothing(cmp_packets):
    rng = np.random.default_rng(0)
    stream, seq = [], cmp_packets[0].seq
    for i, p in enumerate(cmp_packets):
        stream.append(dataclasses.replace(p, seq=seq))
        seq += 1
        if i == 49:  # 200 random libcaer_cmp payloads (they decode to events up to 16.7 s ahead)
            for _ in range(200):
                stream.append(dataclasses.replace(p, seq=seq, events=rng.integers(0, 256, 2000, dtype=np.uint8)))
                seq += 1
    src = WindowSource("duration", 33_300_000, config=IngestConfig(stamp_source="sensor"))
    wins, _ = run(src, stream)
    good = decoded(cmp_packets)
    after = np.concatenate([e.t for e in good[50:]])
    lo, hi = after.min(), after.max()
    in_range = sum(int(((w.window.events.t >= lo) & (w.window.events.t <= hi)).sum()) for w in wins)
    assert in_range + src._windower.pending == len(after) == 381_690  # every good event after them
    c = src.counters()
    assert c["time_outlier_packets"] > 0 and c["time_jumps"] > 0 and c["unknown_words"] > 0
    accounted(src, wins)


def test_time_guard_numbers():
    g = TimeGuard(max_jump_ns=1000)

    def b(t0, n=10, stamp=None, seq=0):
        t = np.arange(t0, t0 + n, dtype=np.int64)
        z = np.zeros(n, np.uint16)
        return Batch(EventArray(z, z, z.astype(np.uint8), t), 0, t0 if stamp is None else stamp, 64, 64, "", seq)

    assert len(g.feed(b(0))) == 1 and len(g.feed(b(10))) == 1
    assert g.feed(b(5000, stamp=20)) == []  # 4990 ns ahead, headers did not advance: held
    assert g.held_events == 10
    out = g.feed(b(20, stamp=20))  # the old timeline goes on: the held packet was an outlier
    assert len(out) == 1 and g.counters()["dropped_time_outlier"] == 10 and g.held_events == 0
    assert g.feed(b(-500, stamp=30)) == []  # back: held
    out = g.feed(b(-490, stamp=40))  # continues from the held one: a real jump
    assert [x.resync for x in out] == ["time_jump", ""] and g.counters()["time_jumps"] == 1
    assert g.last_jump_s == pytest.approx(-520e-9)
    # a packet spanning more than the bound: its far events go, the rest stays
    t = np.array([-480, -479, -478, 10**9], np.int64)
    z = np.zeros(4, np.uint16)
    out = g.feed(Batch(EventArray(z, z, z.astype(np.uint8), t), 3, 50, 64, 64, "", 9))
    assert len(out[0].events) == 3 and out[0].lost_packets == 3 and g.counters()["dropped_time_outlier"] == 11
    with pytest.raises(ValueError):
        TimeGuard(0)


def test_reset_and_size_change_start_a_new_timeline(evt3, cmp_packets):
    src = WindowSource("duration", D20)
    wins, _ = run(src, evt3[:60])
    src.reset()
    w2, _ = run(src, [dataclasses.replace(p, seq=p.seq + 10**6) for p in evt3[60:120]])
    assert w2 and w2[0].resync == "reset"
    w3, notes = run(src, [dataclasses.replace(p, seq=p.seq + 10**7) for p in cmp_packets[:30]])
    # the old size's open window comes out first, then the new size starts afresh
    assert (w3[0].width, w3[0].height, w3[0].resync) == (640, 480, "")
    assert (w3[1].width, w3[1].height, w3[1].resync) == (346, 260, "size_change")
    assert all((w.width, w.height, w.resync) == (346, 260, "") for w in w3[2:])
    c = src.counters()
    assert c["geometry_changes"] == 1 and c["dropped_reconfigure"] > 0  # reset dropped the open window, counted
    accounted(src, wins + w2 + w3)


def test_tick_mode_collects_until_the_tick_within_the_cap(cmp_packets):
    src = WindowSource("tick", max_window_events=1000, config=IngestConfig(stamp_source="sensor"))
    wins, _ = run(src, cmp_packets[:40])
    assert wins == []
    (w,) = src.tick()
    ev = EventArray.concatenate(decoded(cmp_packets[:40]))
    assert w.count == 1000 and np.array_equal(w.window.events.t, ev.t[-1000:])  # the newest kept
    assert (w.window.t0, w.window.t1) == (int(ev.t[-1000]), int(ev.t[-1]) + 1)
    assert src.counters()["dropped_overflow"] == len(ev) - 1000
    assert src.tick() == []
    accounted(src, [w])


def test_duration_window_cap(cmp_packets):
    src = WindowSource("duration", 10 * 10**9, max_window_events=5000, config=IngestConfig(stamp_source="sensor"))
    wins, _ = run(src, cmp_packets)
    assert wins == [] and src._windower.pending == 5000
    assert src.counters()["dropped_overflow"] == 571_266 - 5000
    accounted(src, wins)


def test_packet_ingest_batches_carry_the_packet(cmp_packets):
    ing = PacketIngest(IngestConfig(stamp_source="sensor"))
    r = ing.push(cmp_packets[0])
    (b,) = r.batches
    assert (b.width, b.height, b.frame_id, b.seq, b.stamp_ns) == (346, 260, cmp_packets[0].frame_id,
                                                                  cmp_packets[0].seq, cmp_packets[0].stamp_ns)
    big = dataclasses.replace(cmp_packets[1], width=32768, height=32768)
    r = ing.push(big)
    assert r.batches == [] and "32768x32768" in r.error and ing.counters()["dropped_sensor_size"] == 1
