"""Packets -> stamped windows, on the real evt3 recording."""
import itertools

import pytest

from seal_ros.events.stream import EventStream
from seal_ros.io.bags import BagReader
from seal_ros.segment.source import StampMapper, WindowSource


@pytest.fixture(scope="module")
def packets(data_dir):
    return list(itertools.islice(BagReader(data_dir / "evt3_640x480").event_packets(), 120))


def test_duration_windows_are_contiguous_and_mapped_to_header_time(packets):
    src = WindowSource("duration", 20_000_000, stamp_source="header")
    wins = []
    for p in packets:
        w, err = src.push(p)
        assert err is None
        wins += w
    assert len(wins) >= 5
    for a, b in zip(wins, wins[1:]):
        assert b.window.t0 >= a.window.t1 and (b.window.t0 - a.window.t1) % 20_000_000 == 0
        assert b.seq == a.seq + 1
    for w in wins:
        assert w.t1_ns - w.t0_ns == 20_000_000 and (w.width, w.height) == (640, 480)
        # header stamps are ROS time (2023); event times are the sensor's (seconds since start)
        assert abs(w.t1_ns - packets[0].stamp_ns) < 10_000_000_000
    ref = EventStream()
    firsts = [(p.stamp_ns, ref.push(p).events.t[:1]) for p in packets]
    offset = min(s - int(t[0]) for s, t in firsts if len(t))
    assert src.mapper.offset == offset
    assert wins[-1].t1_ns == wins[-1].window.t1 + offset


def test_count_windows_in_sensor_time(packets):
    src = WindowSource("count", count=5000)  # default stamps: the camera's clock, unchanged
    wins = [w for p in packets for w in src.push(p)[0]]
    assert wins and all(w.count == 5000 for w in wins)
    assert all((w.t0_ns, w.t1_ns) == (w.window.t0, w.window.t1) for w in wins)


def test_mapper_takes_the_smallest_delay():
    m = StampMapper("header")
    m.observe(1_000_500, 500)  # 1_000_000 offset
    m.observe(2_000_100, 1_000_000)  # 1_000_100: more delay, ignored
    assert m(10) == 1_000_010
    m.observe(3_000_000, 2_000_050)  # 999_950: less delay, taken
    assert m.offset == 999_950
    assert StampMapper("sensor")(10) == 10
    with pytest.raises(ValueError):
        StampMapper("wall")
