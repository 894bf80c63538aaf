"""``seal-ros`` builds its parser without importing heavy modules (lazy registration, see seal_ros/cli).

Every module of seal_ros/cli takes part: a new command that imports torch, numba or numpy at module
level or in ``register`` fails here, and ``seal-ros --help`` would again take seconds.
"""
import json
import os
import subprocess
import sys

# Top-level packages that cost from a tenth of a second (numpy) to seconds (torch) to import.
HEAVY = ("torch", "torchvision", "numba", "llvmlite", "numpy", "scipy", "h5py", "rosbags", "cv2", "rclpy",
         "imageio", "PIL", "skimage", "sklearn", "open_clip", "segment_anything", "transformers", "aedat",
         "matplotlib", "tensorboard", "lpips", "pycocotools", "yaml", "mcap")

PROBE = """
import json, sys
import seal_ros.cli as cli
parser = cli.build_parser()
commands = sorted(next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices)
print(json.dumps({"modules": sorted(sys.modules), "commands": commands}))
"""


def _run(args, **kw):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=120, **kw)


def test_building_the_parser_imports_no_heavy_module():
    out = _run(["-c", PROBE])
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    loaded = {m.split(".")[0] for m in res["modules"]}
    assert not loaded & set(HEAVY), f"building the seal-ros parser imported {sorted(loaded & set(HEAVY))}"
    # every command module registered (none fell back to 'unavailable' for lack of an import)
    import pkgutil

    import seal_ros.cli

    names = {m.name.replace("_", "-") for m in pkgutil.iter_modules(seal_ros.cli.__path__) if not m.name.startswith("_")}
    assert names <= set(res["commands"]) and {"convert", "reconstruct", "eval-e2v", "decode-stats"} <= names


def test_help_and_argument_errors_answer_without_heavy_imports():
    """``--help`` and a bad argument exit before any command runs: the probe shows what was imported."""
    probe = ("import sys, json\nfrom seal_ros.cli import main\nrc = main(sys.argv[1:])\n"
             "heavy = sorted({m.split('.')[0] for m in sys.modules} & set(%r))\n"
             "print(json.dumps([rc, heavy]), file=sys.stderr)\n" % (HEAVY,))
    cases = [(["--help"], 0), (["reconstruct", "x", "--out", "y", "--method", "bogus"], 2),
             (["convert", "a", "b", "--encoding", "evt21"], 2), (["fuzz", "--packets", "-3"], 2), (["nope"], 2)]
    for argv, want in cases:
        out = _run(["-c", probe, *argv])
        rc, heavy = json.loads(out.stderr.strip().splitlines()[-1])
        assert (rc, heavy) == (want, []), (argv, out.stderr)
    bad = _run(["-c", probe, "reconstruct", "x", "--out", "y", "--method", "bogus"]).stderr.splitlines()
    assert bad[0].startswith("seal-ros reconstruct: error: argument --method: invalid choice: 'bogus'")
    assert len(bad) == 2  # one line, then the probe's


def test_copied_choice_lists_equal_their_sources():
    from seal_ros.cli import _choices
    from seal_ros.e2v.reconstructor import ALL_METHODS
    from seal_ros.events.encoders import SUPPORTED_ENCODINGS
    from seal_ros.segment.event_images import REPRESENTATIONS

    assert _choices.REPRESENTATIONS == REPRESENTATIONS
    assert _choices.E2V_METHODS == ALL_METHODS
    assert _choices.ENCODINGS == SUPPORTED_ENCODINGS
