"""``seal-ros decode-stats``: the decoding fields on the shared recordings."""
from __future__ import annotations

import json
import subprocess
import sys

from conftest import EVT3_BAG, LIBCAER_CMP_BAG

from seal_ros.cli.decode_stats import stats


def test_evt3_decode_stats_known_values():
    out = stats(EVT3_BAG)
    assert (out["messages"], out["encoding"], out["width"], out["height"]) == (517, "evt3", 640, 480)
    assert (out["events"], out["on"], out["off"]) == (343_474, 125_183, 218_291)
    assert out["cd_time_sum_us"] == 2_851_601_611_994
    assert (out["triggers"], out["triggers_rising"], out["triggers_falling"]) == (4157, 2079, 2078)
    assert out["trigger_time_sum_us"] == 33_999_437_880
    assert out["lost_packets"] == 0 and out["bad_packets"] == 0 and out["first_error"] is None
    assert out["warnings"] == 0 and out["first_warning"] is None
    assert out["dropped_out_of_range"] == 0 and out["unknown_words"] == 0
    assert out["first_event_ns"] == out["t_min_ns"] == 7_139_845_000
    assert out["t_min_ns"] <= out["last_event_ns"] <= out["t_max_ns"]
    assert out["events_per_s"] > 0 and out["decode_s"] > 0


def test_libcaer_cmp_decode_stats_via_cli():
    res = subprocess.run([sys.executable, "-m", "seal_ros", "decode-stats", str(LIBCAER_CMP_BAG)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["on"], out["off"], out["events"]) == (211_043, 360_223, 571_266)
    t0 = 1_744_227_144_732_712
    assert out["first_event_ns"] // 1000 == t0
    assert out["cd_time_sum_us"] - t0 * out["events"] == 335_555_680_277
    assert out["triggers"] == 0 and out["lost_packets"] == 0


def test_no_decode_keeps_basic_fields_only():
    out = stats(EVT3_BAG, decode=False)
    assert out["messages"] == 517 and "events" not in out
