"""Fuzz: 10^5 hostile packets of every encoding through its decoder, 2 x 10^4 through the nodes' path.

Mutated from the shared real recordings in every encoding (their own packets and words where they
are in it, their events re-encoded otherwise) and from a synthetic stream; seeded, so CI is
deterministic. What every packet must hold is the table in seal_ros/fuzz/guarantees.py (no
exception, coordinates and counts in range, time bounds and order, counters, CPU time, sampled
allocations); ``seal-ros fuzz --packets N --seed S`` runs longer ones with other seeds.
"""
from __future__ import annotations

import functools
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA

from seal_ros.events.decoders import SUPPORTED_ENCODINGS
from seal_ros.fuzz import corpora, fuzz_decoder, fuzz_ingest
from seal_ros.fuzz.corpus import RECORDINGS, from_packets
from seal_ros.fuzz.mutate import KINDS

DECODER_PACKETS = 100_000
INGEST_PACKETS = 20_000
# recordings that hold triggers (the only data of the trigger encoding)
WITH_TRIGGERS = {"evt3_640x480"}


@functools.lru_cache(maxsize=None)
def _corpora(enc):
    return corpora(enc, DATA, 0)


@pytest.mark.parametrize("enc", SUPPORTED_ENCODINGS)
def test_every_encoding_survives_its_fuzz(enc):
    corp = _corpora(enc)
    real = {c.name for c in corp} - {corp[-1].name}
    assert real == ({n for n, _ in RECORDINGS} if enc != "trigger" else WITH_TRIGGERS)
    report = fuzz_decoder(enc, DECODER_PACKETS, 0, corp)
    assert report.problems == []
    assert report.packets == DECODER_PACKETS and set(report.kinds) == set(KINDS)
    assert (report.triggers if enc == "trigger" else report.events) > 10 * DECODER_PACKETS
    assert 0 < report.max_alloc_ratio <= 1  # tracemalloc measured some packets, all within the bound
    assert report.counters["packets"] == DECODER_PACKETS + sum(c.count for c in corp)  # + the streams as recorded


@pytest.mark.parametrize("enc", SUPPORTED_ENCODINGS)
def test_every_encoding_survives_the_nodes_path(enc):
    report = fuzz_ingest(enc, INGEST_PACKETS, 0, _corpora(enc))
    assert report.problems == []
    c = report.counters
    assert c["packets"] == INGEST_PACKETS and c["bad_packets"] > 0
    assert c["windows_cut"] > (100 if enc != "trigger" else 0)  # trigger packets hold no CD events
    assert c["restarts"] > 0 and c["lost_packets"] > 0 and c["dropped_sensor_size"] > 0


def test_the_checks_catch_a_decoder_that_breaks_its_guarantees(monkeypatch):
    """Each guarantee, broken on purpose in the mono decoder, is reported naming the packet."""
    from seal_ros.events.decoders.mono import MonoDecoder

    corp = [c for c in _corpora("mono") if c.name == "evt3_640x480"]
    real = MonoDecoder._decode_words
    breaks = {
        "outside the sensor": lambda ev: (ev.x.__iadd__(np.uint16(4000)), ev)[1],
        "time outside [time_base": lambda ev: (ev.t.__isub__(1), ev)[1],
        "more events than the packet can encode": lambda ev: ev[np.concatenate([np.arange(len(ev))] * 2)],
    }
    for needle, spoil in breaks.items():
        def broken(self, words, time_base, spoil=spoil):
            ev, tr = real(self, words, time_base)
            return (spoil(ev) if len(ev) else ev), tr

        monkeypatch.setattr(MonoDecoder, "_decode_words", broken)
        report = fuzz_decoder("mono", 500, 1, corp)
        problems = report.problems
        assert any(needle in p for p in problems), (needle, problems)
        # every line names its packet (kind, corpus, size, time base, bytes), or the batch or stream
        assert all(" of evt3_640x480, " in p or p.startswith(("batch at", "evt3_640x480 as recorded")) for p in problems)
    monkeypatch.setattr(MonoDecoder, "_decode_words", real)
    # a recording whose time goes back is a finding too
    corp = _corpora("mono")[0]
    swapped = [(corp.packet(i), int(corp.time_bases[i])) for i in (1, 0)]
    report = fuzz_decoder("mono", 10, 1, [from_packets("swapped", "mono", corp.width, corp.height, swapped, True)])
    assert any("swapped as recorded: event" in p and "earlier than the one before it" in p for p in report.problems)


def test_seal_ros_fuzz_runs_longer_fuzzes_from_the_command_line():
    cmd = [sys.executable, "-m", "seal_ros", "fuzz", "--packets", "1000", "--seed", "7", "--encoding", "evt3",
           "--encoding", "libcaer", "--data", str(DATA)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["encoding"], r["level"], r["packets"], r["ok"]) for r in lines] == [
        ("evt3", "decoder", 1000, True), ("evt3", "ingest", 1000, True),
        ("libcaer", "decoder", 1000, True), ("libcaer", "ingest", 1000, True)]
    assert "evt3_640x480" in lines[0]["corpora"] and lines[0]["seed"] == 7
    bad = subprocess.run([sys.executable, "-m", "seal_ros", "fuzz", "--data", "/nonexistent/recordings"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a folder of recordings" in bad.stderr
