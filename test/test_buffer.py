"""EventBuffer and windowers."""
from __future__ import annotations

import numpy as np
import pytest

from seal_ros.events.buffer import CountWindower, DurationWindower, EventBuffer, Window
from seal_ros.events.types import EventArray


def evs(t):
    t = np.asarray(t, np.int64)
    n = len(t)
    return EventArray((np.arange(n) % 7).astype(np.uint16), (np.arange(n) % 5).astype(np.uint16),
                      (np.arange(n) % 2).astype(np.uint8), t)


def test_buffer_window_selects_half_open_interval():
    b = EventBuffer(100)
    b.append(evs([0, 10, 20]))
    b.append(evs([30, 25, 40]), lost_packets=2)  # not sorted inside a chunk: still exact
    w = b.window(10, 30)
    assert isinstance(w, Window) and (w.t0, w.t1) == (10, 30)
    assert w.events.t.tolist() == [10, 20, 25] and w.count == 3
    # the gap is marked at the first event after it (t=30)
    assert w.lost_packets == 0 and not w.lost
    assert b.window(0, 10).lost_packets == 0 and b.window(30, 41).lost_packets == 2 and b.window(30, 41).lost
    assert len(b.window(41, 100)) == 0
    assert [len(x) for x in b.windows_between([0, 20, 35, 50])] == [2, 3, 1]


def test_buffer_overflow_drops_oldest_counted():
    b = EventBuffer(5)
    b.append(evs([1, 2, 3]))
    b.append(evs([4, 5, 6, 7]))
    assert len(b) == 5 and b.dropped_overflow == 2
    assert b.window(0, 100).events.t.tolist() == [3, 4, 5, 6, 7]
    b.append(evs(np.arange(10, 22)))
    assert len(b) == 5 and b.dropped_overflow == 2 + 5 + 7
    assert b.window(0, 100).events.t.tolist() == [17, 18, 19, 20, 21]
    assert b.stats["dropped_overflow"] == 14 and b.t_range == (17, 21)
    with pytest.raises(ValueError):
        EventBuffer(0)


def test_buffer_drop_before():
    b = EventBuffer(100)
    b.append(evs([1, 2, 3]))
    b.append(evs([4, 6, 5]), lost_packets=1)
    b.drop_before(5)
    assert len(b) == 2 and b.window(0, 100).events.t.tolist() == [6, 5]
    assert b.window(0, 100).lost_packets == 0 and b.dropped_overflow == 0


def test_duration_windower():
    w = DurationWindower(10)
    assert w.feed(evs([100, 103])) == []
    out = w.feed(evs([109, 112, 135]), lost_packets=1)
    assert [(x.t0, x.t1, x.events.t.tolist(), x.lost_packets) for x in out] == [
        (100, 110, [100, 103, 109], 1), (110, 120, [112], 0)]
    out = w.feed(evs([118, 139, 141]))  # 118 is late: [110, 120) was left when 135 arrived
    assert w.late_events == 1
    assert [(x.t0, x.t1, x.events.t.tolist()) for x in out] == [(130, 140, [135, 139])]
    out = w.flush()
    assert [(x.t0, x.events.t.tolist()) for x in out] == [(140, [141])] and w.flush() == []


def test_duration_windower_lost_goes_with_next_events():
    w = DurationWindower(10, origin_ns=0)
    w.feed(evs([1, 2]))
    w.feed(evs([]), lost_packets=3)
    out = w.feed(evs([25]))
    assert out[0].lost_packets == 0
    assert w.flush()[0].lost_packets == 3


def test_duration_windower_no_empty_windows_for_huge_gaps():
    w = DurationWindower(1)
    out = w.feed(evs([0, 10**15, 10**15 + 1]))
    assert [x.t0 for x in out] == [0, 10**15]


def test_duration_windower_max_events():
    w = DurationWindower(100, max_events=3)
    w.feed(evs([1, 2, 3, 4, 5]))
    out = w.flush()
    assert out[0].events.t.tolist() == [3, 4, 5] and w.dropped_overflow == 2


def test_count_windower():
    c = CountWindower(4)
    assert c.feed(evs([1, 2, 3])) == []
    out = c.feed(evs([4, 5, 6, 7, 8, 9, 10]), lost_packets=2)
    assert [x.events.t.tolist() for x in out] == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert [(x.t0, x.t1, x.lost_packets) for x in out] == [(1, 5, 2), (5, 9, 0)]
    c.feed(evs([]), lost_packets=1)
    out = c.feed(evs([11, 12, 13]))
    assert out[0].events.t.tolist() == [9, 10, 11, 12] and out[0].lost_packets == 1
    out = c.flush()
    assert out[0].events.t.tolist() == [13] and out[0].lost_packets == 0 and c.flush() == []


def test_count_windower_total_preserved_random():
    rng = np.random.default_rng(0)
    c = CountWindower(97)
    got = []
    t = 0
    for _ in range(50):
        k = int(rng.integers(0, 300))
        ts = t + np.arange(k)
        t += k
        got += [x.events.t for x in c.feed(evs(ts))]
    got += [x.events.t for x in c.flush()]
    allt = np.concatenate(got)
    assert allt.tolist() == list(range(t))
    assert all(len(g) == 97 for g in got[:-1])


def test_duration_windower_max_events_across_feeds():
    w = DurationWindower(1000, max_events=5)
    for k in range(4):
        w.feed(evs([10 * k + 1, 10 * k + 2, 10 * k + 3]))
    out = w.flush()
    assert out[0].events.t.tolist() == [22, 23, 31, 32, 33]
    assert w.dropped_overflow == 7
