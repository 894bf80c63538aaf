"""The inference worker with a stand-in predictor: reruns on prompt changes, dropping, missing weights, vocabularies."""
import queue
import threading
import types

import numpy as np
import pytest

from seal_ros.events.buffer import Window
from seal_ros.events.types import EventArray
from seal_ros.seal.predictor import InstanceResult, MissingWeights
from seal_ros.segment.prompts import Prompt, PromptStore
from seal_ros.segment.runner import SegmentRunner, combine_vocabularies
from seal_ros.events.source import StampedWindow

W, H = 64, 48


class FakePredictor:
    def __init__(self):
        self.vocab = {}
        self.image_keys = []
        self.backbone_runs = 0
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def set_vocabulary(self, names, granularity="instance", templates=None):
        if names == ["boom"]:
            raise RuntimeError("encoder exploded")
        self.vocab[granularity] = tuple(names)

    def vocabulary(self, granularity="instance"):
        return self.vocab.get(granularity, ())

    def set_image(self, img, key=None):
        self.entered.set()
        self.gate.wait(5)
        if not self.image_keys or self.image_keys[-1] != key:
            self.backbone_runs += 1
        self.image_keys.append(key)

    def predict(self, specs):
        out = []
        for s in specs:
            mask = np.zeros((H, W), bool)
            x0, y0, x1, y1 = (int(v) for v in s.box)
            mask[y0:y1, x0:x1] = True
            names = self.vocab[s.granularity]
            out.append(InstanceResult(s.id, mask, 0, names[0], 0.9, 0.8, 0.72, s.granularity,
                                      (float(x0), float(y0), float(x1), float(y1)), names))
        return out


class Log:
    def __init__(self):
        self.lines = []

    def __getattr__(self, level):
        return lambda msg, **kw: self.lines.append((level, msg))


def window(seq):
    ev = EventArray(np.array([1], np.uint16), np.array([1], np.uint16), np.array([1], np.uint8), np.array([seq], np.int64))
    return StampedWindow(Window(seq * 10, seq * 10 + 10, ev), seq * 10 + 100, seq * 10 + 110, W, H, "cam", seq)


@pytest.fixture
def make():
    runners = []

    def _make(load, store=None):
        outs = queue.Queue()
        log = Log()
        errors = types.SimpleNamespace(counts={}, report=lambda k, m: errors.counts.__setitem__(k, errors.counts.get(k, 0) + 1))
        r = SegmentRunner(load, store if store is not None else PromptStore(), outs.put, log, errors,
                          lambda ev, w, h: np.full((h, w, 3), 128, np.uint8))
        runners.append(r)
        return r, outs, log, errors

    yield _make
    for r in runners:
        r.stop()


def _ready(r, vocab=("car", "bus")):
    r.set_vocabulary("instance", list(vocab), ["{}"])
    r.start()
    for _ in range(200):
        if r.state == "ready":
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"runner not ready: {r.state}")


def test_window_answered_then_rerun_on_prompt_change_reuses_the_backbone(make):
    fake = FakePredictor()
    store = PromptStore()
    r, outs, _, _ = make(lambda: fake, store)
    overlays = queue.Queue()
    r.publish_overlay = overlays.put
    _ready(r)
    store.put([Prompt(1, box=(2, 2, 10, 10))])
    r.submit(window(1))
    a = outs.get(timeout=5)
    assert not a.rerun and [x.prompt_id for x in a.results] == [1] and a.vocabulary == ["car", "bus"]
    assert a.window.t1_ns == 120
    drawn = overlays.get(timeout=5)  # after the results, for the same window
    assert drawn is a and drawn.overlay.shape == (H, W, 3)
    r.want_overlay = lambda: False  # nobody subscribes: no drawing
    store.put([Prompt(2, box=(20, 20, 30, 30))])
    r.poke()
    b = outs.get(timeout=5)
    assert b.rerun and b.window is a.window and sorted(x.prompt_id for x in b.results) == [1, 2]
    assert b.overlay is None and overlays.empty()
    assert fake.backbone_runs == 1 and fake.image_keys == [1, 1]


def test_a_waiting_window_is_replaced_by_a_newer_one(make):
    fake = FakePredictor()
    r, outs, _, _ = make(lambda: fake)
    _ready(r)
    fake.gate.clear()  # hold the worker inside window 1
    r.submit(window(1))
    assert fake.entered.wait(5)
    r.submit(window(2))
    r.submit(window(3))
    fake.gate.set()
    seqs = [outs.get(timeout=5).window.seq, outs.get(timeout=5).window.seq]
    assert seqs == [1, 3] and r.counts["dropped_windows"] == 1


def test_tracking_moves_the_prompt(make):
    fake = FakePredictor()
    store = PromptStore(track=True)
    r, outs, _, _ = make(lambda: fake, store)
    _ready(r)
    store.put([Prompt(1, box=(-5, 2, 10, 100))])  # clipped to the sensor, then follows its mask's box
    r.submit(window(1))
    outs.get(timeout=5)
    assert store.snapshot()[0].box == (0.0, 2.0, 10.0, 48.0)


def test_missing_weights_publishes_images_but_no_results(make):
    def load():
        raise MissingWeights(["seal.pt"], "/nowhere")

    r, outs, log, _ = make(load)
    r.start()
    r.submit(window(1))
    out = outs.get(timeout=5)
    assert r.state == "missing" and out.results is None and out.event_image.shape == (H, W, 3)
    (line,) = [m for lvl, m in log.lines if lvl == "error"]
    assert "seal.pt" in line and "seal-ros models fetch --dir /nowhere" in line
    r.submit(window(2))
    outs.get(timeout=5)
    assert sum(lvl == "error" for lvl, _ in log.lines) == 1  # said once


def test_vocabulary_swap_and_failed_encoding_keeps_the_old(make):
    fake = FakePredictor()
    store = PromptStore()
    r, outs, _, errors = make(lambda: fake, store)
    _ready(r)
    store.put([Prompt(1, box=(2, 2, 10, 10))])
    r.set_vocabulary("instance", ["boom"], ["{}"])
    r.set_vocabulary("instance", ["tram", "pedestrian"], ["{}"])  # the newest job wins
    for _ in range(100):
        if fake.vocab["instance"] == ("tram", "pedestrian"):
            break
        threading.Event().wait(0.02)
    r.submit(window(1))
    assert outs.get(timeout=5).vocabulary == ["tram", "pedestrian"]
    r.set_vocabulary("instance", ["boom"], ["{}"])
    for _ in range(100):
        if errors.counts.get("vocabulary"):
            break
        threading.Event().wait(0.02)
    assert errors.counts["vocabulary"] == 1 and fake.vocab["instance"] == ("tram", "pedestrian")


def test_combine_vocabularies():
    R = lambda idx, voc: types.SimpleNamespace(class_index=idx, vocabulary=voc)  # noqa: E731
    inst, part = ("car", "bus"), ("wheel",)
    vocab, idx = combine_vocabularies([R(1, inst), R(0, part), R(-1, inst), R(2, inst + part)])
    assert vocab == ["car", "bus", "wheel", "car", "bus", "wheel"] and idx == [1, 2, -1, 5]
    assert combine_vocabularies([], ("a",)) == (["a"], [])
