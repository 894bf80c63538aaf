"""The nodes as real processes over real DDS: Ctrl-C / SIGTERM (to the process or to its whole
group, as a terminal and ``ros2 launch`` do) end them within 2 s with status 0 and an empty stderr;
an invalid start-up parameter ends them with one line and status 2; ``models_dir`` with ``~``."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import spin_until

ROOT = Path(__file__).resolve().parents[1]


class Proc:
    """A node started like ``ros2 run`` does, in a process group of its own; logs go to stdout
    (RCUTILS_LOGGING_USE_STDOUT), so stderr holds only what must not be there: tracebacks."""

    def __init__(self, executable, *params, env=None):
        cmd = [sys.executable, str(ROOT / "executables" / executable), "--ros-args"]
        for p in params:
            cmd += ["-p", p]
        full_env = dict(os.environ, RCUTILS_LOGGING_USE_STDOUT="1", PYTHONUNBUFFERED="1", **(env or {}))
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env,
                                  start_new_session=True)
        self.out, self.err = [], []
        self._threads = [threading.Thread(target=self._read, args=(s, d), daemon=True)
                         for s, d in ((self.p.stdout, self.out), (self.p.stderr, self.err))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream, dest):
        for line in stream:
            dest.append(line)

    def stop(self, *signals, gap_s=0.05) -> float:
        """Send ``signals`` (``("group", SIGINT)`` to the whole group, ``("proc", SIGTERM)`` to the
        process), ``gap_s`` apart; returns the seconds until the process ended."""
        t0 = time.monotonic()
        for i, (where, sig) in enumerate(signals):
            if i:
                time.sleep(gap_s)
            if self.p.poll() is None:
                (os.killpg if where == "group" else os.kill)(self.p.pid, sig)
        try:
            self.p.wait(timeout=10)
        finally:
            if self.p.poll() is None:
                os.killpg(self.p.pid, signal.SIGKILL)
        elapsed = time.monotonic() - t0
        for t in self._threads:
            t.join(5)
        return elapsed

    def wait(self, timeout=60):
        self.p.wait(timeout)
        for t in self._threads:
            t.join(5)
        return self.p.returncode


@pytest.fixture
def graph(ros_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    node = Node("process_test_observer", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    yield node, ex
    ex.remove_node(node)
    node.destroy_node()
    ex.shutdown()


def test_sigint_and_sigterm_end_every_node_cleanly(graph, tmp_path):
    node, ex = graph
    home = tmp_path / "home"
    home.mkdir()
    cases = {
        # name: (Proc, signals)
        "reconstructor, SIGINT": (Proc("event_reconstructor", "events_topic:=/proc_test/events"),
                                  [("proc", signal.SIGINT)]),
        "reconstructor, SIGTERM": (Proc("event_reconstructor", "events_topic:=/proc_test/events",
                                        "window_duration_ms:=50"),  # an integer for a float is taken
                                   [("proc", signal.SIGTERM)]),
        "recorder recording, Ctrl-C to the group then launch's SIGINT": (
            Proc("pair_recorder", f"output_dir:={tmp_path}/rec", "record_on_start:=true", "session_name:=s"),
            [("group", signal.SIGINT), ("proc", signal.SIGINT)]),
        "segmenter, Ctrl-C to the group then launch's SIGTERM": (
            Proc("seal_segmenter", "models_dir:=~/.cache/seal_ros/models", "device:=cpu",
                 env={"HOME": str(home)}),
            [("group", signal.SIGINT), ("proc", signal.SIGTERM)]),
    }
    names = {"event_reconstructor", "pair_recorder", "seal_segmenter"}
    try:
        assert spin_until(ex, lambda: names <= set(node.get_node_names())
                          and len(node.get_publisher_names_and_types_by_node("event_reconstructor", "/")) > 0, 60)
        seg = cases["segmenter, Ctrl-C to the group then launch's SIGTERM"][0]
        # the launch file's models_dir:=~/.cache/seal_ros/models is expanded
        expected = f"model files missing in {home}/.cache/seal_ros/models: seal.pt"
        assert spin_until(ex, lambda: any(expected in line for line in seg.out), 60), "".join(seg.out)
        assert (tmp_path / "rec" / "s" / "pairs.jsonl").exists()
        for name, (proc, signals) in cases.items():
            assert proc.p.poll() is None, (name, "".join(proc.err))
            elapsed = proc.stop(*signals)
            assert proc.p.returncode == 0, (name, proc.p.returncode, "".join(proc.err))
            assert "".join(proc.err) == "", (name, "".join(proc.err))
            assert elapsed < 2.0, (name, elapsed)
    finally:
        for proc, _ in cases.values():
            if proc.p.poll() is None:
                os.killpg(proc.p.pid, signal.SIGKILL)
    assert not any("~" in line for line in seg.out if "models" in line)
    # the recorder closed its session on the way out (not killed half-way)
    from seal_ros.recorder.reader import validate

    summary = validate(tmp_path / "rec" / "s")
    assert summary["valid"] and not summary["unclosed"] and summary["stop_reason"] == "stopped"


def test_an_invalid_start_up_parameter_stops_the_node_with_one_line_and_status_2(tmp_path):
    long_name = "x" * 300
    cases = [
        (Proc("event_reconstructor", "window_events:=1.5"),
         "event_reconstructor: invalid start-up value window_events=1.5", "an integer in [1, 100000000]"),
        (Proc("event_reconstructor", "window_duration_ms:=abc"),
         "event_reconstructor: invalid start-up value window_duration_ms='abc'", "a number in [0.1, 10000.0]"),
        (Proc("event_reconstructor", "method:=bogus"),
         "event_reconstructor: invalid start-up value method='bogus'", "is not one of ['hpf'"),
        (Proc("seal_segmenter", "model:=tiny", "device:=cpu", "backend:=onnx", "mode:=auto"),
         "seal_segmenter: invalid start-up value mode='auto' with backend 'onnx'", "runs on backend torch only"),
        (Proc("pair_recorder", f"session_name:={long_name}", f"output_dir:={tmp_path}"),
         f"pair_recorder: invalid start-up value session_name='{long_name}'", "at most 247 fit a file name"),
    ]
    for proc, start, rule in cases:
        assert proc.wait() == 2, (start, "".join(proc.err), "".join(proc.out))
        lines = "".join(proc.err).splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith(start) and rule in lines[0], lines[0]
        assert "Traceback" not in "".join(proc.out)
    assert not any(tmp_path.iterdir())
