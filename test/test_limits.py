"""Hostile packets: the per-packet event cap, the sensor-size bound, and memory measured in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from seal_ros.events.decoders import make_decoder
from seal_ros.events.packet import EventPacket
from seal_ros.events.stream import DEFAULT_MAX_PACKET_EVENTS, EventStream


def amplifying_evt3(nbytes: int) -> np.ndarray:
    """EVT3 words that decode to ~11.8 events each: row 5, then runs of full 12-bit vectors from x = 0."""
    unit = np.array([0x3000] + [0x4FFF] * 53, np.uint16)  # VECT_BASE_X 0, then 53 x VECT_12 0xFFF: 636 events
    head = np.array([0x8001, 0x6000, 0x0005], np.uint16)  # TIME_HIGH, TIME_LOW, ADDR_Y 5
    return np.concatenate([head, np.tile(unit, max(1, nbytes // 2 // len(unit)))]).view(np.uint8)


def _words(enc, n, rng):
    if enc == "libcaer_cmp":  # column 3, then 8-bit vectors of y (8 events a word)
        w = np.concatenate([[0x2003, 0x4000], np.tile([0x4000, 0x50FF, 0x50FF, 0x50FF], n)]).astype(np.uint16)
        return w.view(np.uint8)
    if enc == "libcaer":
        x, y = rng.integers(0, 64, n), rng.integers(0, 64, n)
        data = (x.astype(np.uint32) << 17) | (y.astype(np.uint32) << 2)
        return np.rec.fromarrays([data, np.arange(n, dtype=np.int32)], names="data,ts").tobytes()
    w = (rng.integers(0, 64, n).astype(np.uint64) << np.uint64(48)) | (rng.integers(0, 64, n).astype(np.uint64)
                                                                       << np.uint64(32)) | np.arange(n, dtype=np.uint64)
    return w.astype("<u8").tobytes()


@pytest.mark.parametrize("enc", ["evt3", "libcaer_cmp", "libcaer", "mono"])
def test_the_event_cap_stops_a_packet_exactly_there(enc):
    rng = np.random.default_rng(1)
    payload = amplifying_evt3(20_000) if enc == "evt3" else np.frombuffer(bytes(_words(enc, 3000, rng)), np.uint8)
    full, _ = make_decoder(enc, 64 if enc != "evt3" else 640, 64 if enc != "evt3" else 480).decode(payload, 7)
    assert len(full) > 2000
    dec = make_decoder(enc, 64 if enc != "evt3" else 640, 64 if enc != "evt3" else 480)
    dec.max_events = 1000
    ev, _ = dec.decode(payload, 7)
    assert len(ev) == 1000
    for f in ("x", "y", "p", "t"):  # what was decoded is the packet's first 1000 events
        np.testing.assert_array_equal(getattr(ev, f), getattr(full, f)[:1000])
    s = dec.stats
    assert s["capped_packets"] == 1 and s["dropped_capped_bytes"] > 0 and s["events"] == 1000
    ev2, _ = dec.decode(payload[:64], 7)  # the next packet decodes as usual
    assert 0 < len(ev2) < 1000 and dec.stats["capped_packets"] == 1


def test_stream_passes_the_cap_to_every_decoder():
    s = EventStream(max_packet_events=5000)
    r = s.push(EventPacket("evt3", 640, 480, 1, 0, amplifying_evt3(200_000)))
    assert r.error is None and len(r.events) == 5000
    c = s.counters()
    assert c["capped_packets"] == 1 and c["dropped_capped_bytes"] > 150_000
    assert EventStream().max_packet_events == DEFAULT_MAX_PACKET_EVENTS == 11_000_000


RSS_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    from test_limits import amplifying_evt3
    from seal_ros.events.decoders import warm_up
    from seal_ros.events.packet import EventPacket
    from seal_ros.events.source import WindowSource

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    warm_up()
    src = WindowSource("duration", 50_000_000)  # the nodes' defaults: 11 M events a packet, 2048 a side
    src.push(EventPacket("evt3", 640, 480, 1, 0, amplifying_evt3(1 << 12), 10**18))
    payload = amplifying_evt3(int(sys.argv[2]) << 20)
    huge = EventPacket("evt3", 32768, 32768, 3, 0, amplifying_evt3(1 << 10), 10**18 + 2)
    base = rss()
    r = src.push(EventPacket("evt3", 640, 480, 2, 0, payload, 10**18 + 1))
    r2 = src.push(huge)
    c = src.counters()
    print(json.dumps(dict(peak_mb=(rss() - base) / 2**20, events=c["events"], capped=c["capped_packets"],
                          sensor=c["dropped_sensor_size"], error=r.error, error2=r2.error)))
""")


def test_memory_stays_bounded_for_amplifying_and_huge_sensor_packets(tmp_path):
    """A 16 MiB EVT3 payload holds ~95 M events (2.7 GB decoded): the cap keeps the process near 11 M."""
    script = tmp_path / "rss.py"
    script.write_text(RSS_SCRIPT)
    here = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, str(script), here, "16"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    first = len(make_decoder("evt3", 640, 480).decode(amplifying_evt3(1 << 12), 0)[0])
    assert res["events"] == first + DEFAULT_MAX_PACKET_EVENTS and res["capped"] == 1 and res["error"] is None
    assert res["sensor"] == 1 and "32768x32768" in res["error2"]
    # 11 M events x 13 bytes = 143 MB, plus the 16 MiB payload; uncapped it was 2.7 GB
    assert res["peak_mb"] < 400, res
