"""EventStream: seq tracking, bad packets as counted errors, the real bags end to end."""
from __future__ import annotations

import numpy as np
from conftest import EVT3_BAG, LIBCAER_CMP_BAG

from seal_ros.events.packet import EventPacket
from seal_ros.events.stream import EventStream
from seal_ros.events.types import EventArray
from seal_ros.io.bags import BagReader

VEC = np.array([0x8064, 0x6005, 0x0003, 0x2007, 0x8063, 0x2008, 0x8065, 0x6006, 0x2009], np.uint16).view(np.uint8)


def pk(seq, events=VEC, encoding="evt3", width=640, height=480, time_base=0):
    return EventPacket(encoding, width, height, seq, time_base, events)


def test_seq_gaps_repeats_and_restarts():
    s = EventStream()
    assert s.push(pk(10)).lost_packets == 0
    r = s.push(pk(13, np.zeros(0, np.uint8)))
    assert r.lost_packets == 2 and r.error is None
    r = s.push(pk(13))
    assert r.error and "repeated" in r.error and len(r.events) == 0
    # seq going back by any distance is a new stream (bag played again, driver restarted)
    r = s.push(pk(12))
    assert r.error is None and r.restart and len(r.events) == 3 and r.lost_packets == 0
    r = s.push(pk(13))
    assert r.error is None and not r.restart and len(r.events) == 3 and r.lost_packets == 0
    assert s.push(pk(0)).restart
    st = s.counters()
    assert st["lost_packets"] == 2 and st["dropped_repeated"] == 1 and st["packets"] == 6
    assert st["bad_packets"] == 1 and st["restarts"] == 2
    assert s.stats["repeated_packets"] == 1  # the name seal-ros decode-stats prints


def test_restart_resets_decoder_state():
    s = EventStream()
    s.push(pk(1000))
    # seq back to 0: the driver restarted; the decoder waits for a valid time again
    r = s.push(pk(0, np.array([0x2005], np.uint16).view(np.uint8)))
    assert r.error is None and r.warning is None and len(r.events) == 0 and s.stats["restarts"] == 1
    assert s.stats["dropped_invalid_time"] == 1
    # reset(): the same on request (~/reset), without a seq going back
    s.push(pk(1))
    s.reset()
    r = s.push(pk(2, np.array([0x2005], np.uint16).view(np.uint8)))
    assert r.lost_packets == 0 and len(r.events) == 0 and s.stats["dropped_invalid_time"] == 2


def test_bad_packets_are_counted_errors():
    s = EventStream()
    cases = [
        pk(1, encoding="evt21"), pk(2, width=0), pk(3, height=0), pk(4, width=10**6),
        pk(5, time_base=-1), pk(6, time_base=1 << 63),
    ]
    for p in cases:
        r = s.push(p)
        assert r.error and len(r.events) == 0, p
    assert s.stats["bad_packets"] == len(cases)
    r = s.push(pk(7, VEC[:-1]))  # odd byte count: a truncated packet, rejected
    assert r.error and "truncated" in r.error and len(r.events) == 0
    r = s.push(pk(8, "not an array"))  # type garbage: still no exception
    assert r.error
    assert s.stats["bad_packets"] == len(cases) + 2
    r = s.push(pk(9))  # and the stream goes on; seq 7 was seen (rejected), seq 8 was not
    assert r.error is None and r.lost_packets == 1
    small = EventStream(max_packet_bytes=16)
    assert "exceeds" in small.push(pk(1)).error


def test_time_base_backwards_and_geometry_change():
    s = EventStream()
    cmp_words = np.array([0x2005, 0x3807], np.uint16).view(np.uint8)
    assert s.push(pk(1, cmp_words, "libcaer_cmp", 346, 260, 5000)).error is None
    r = s.push(pk(2, cmp_words, "libcaer_cmp", 346, 260, 4000))
    assert r.error is None and "backwards" in r.warning and r.events.t.tolist() == [4000]
    r = s.push(pk(3, VEC))
    assert r.error is None and "changed" in r.warning and len(r.events) == 3
    st = s.stats
    assert st["time_base_backwards"] == 1 and st["geometry_changes"] == 1 and st["events"] == 5
    assert st["warnings"] == 2 and st["bad_packets"] == 0


def _stream_bag(path):
    s = EventStream()
    evs, lost, errors = [], 0, []
    for p in BagReader(path).event_packets():
        r = s.push(p)
        evs.append(r.events)
        lost += r.lost_packets
        if r.error or r.warning:
            errors.append(r.error or r.warning)
    return s, EventArray.concatenate(evs), lost, errors


def test_bags_through_stream():
    s, ev, lost, errors = _stream_bag(EVT3_BAG)
    assert errors == [] and lost == 0
    assert (s.stats["on"], s.stats["off"], s.stats["triggers"]) == (125_183, 218_291, 4157)
    assert int((ev.t // 1000).sum()) == 2_851_601_611_994
    s, ev, lost, errors = _stream_bag(LIBCAER_CMP_BAG)
    assert errors == [] and lost == 0 and len(ev) == 571_266 and s.stats["packets"] == 100


def test_lost_packets_from_a_bag_with_dropped_messages():
    packets = list(BagReader(LIBCAER_CMP_BAG).event_packets())
    s = EventStream()
    lost = sum(s.push(p).lost_packets for i, p in enumerate(packets) if i % 10 != 3)
    assert lost == 10 and s.stats["lost_packets"] == 10
