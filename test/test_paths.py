"""``~`` and ``$VARS`` in every path parameter and every ``seal-ros`` path argument."""
import argparse

import pytest

from seal_ros.io.paths import PathError, expand_path
from seal_ros.nodes.params import Param


def test_expand_path(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("SEAL_TEST_DIR", "/data/x")
    assert expand_path("~/.cache/seal_ros/models") == f"{tmp_path}/.cache/seal_ros/models"
    assert expand_path("$SEAL_TEST_DIR/models") == "/data/x/models"
    assert expand_path("${SEAL_TEST_DIR}/m") == "/data/x/m"
    assert expand_path("") == "" and expand_path("/abs/~x") == "/abs/~x"
    monkeypatch.delenv("SEAL_TEST_UNSET", raising=False)
    with pytest.raises(PathError, match=r"\$SEAL_TEST_UNSET is not set"):
        expand_path("$SEAL_TEST_UNSET/models")


def test_path_params_refuse_unset_variables(monkeypatch):
    monkeypatch.delenv("SEAL_TEST_UNSET", raising=False)
    spec = Param("models_dir", "", "d", path=True)
    assert spec.check("~/m") is None
    assert "SEAL_TEST_UNSET is not set" in spec.check("$SEAL_TEST_UNSET/m")


def _path_actions():
    from seal_ros.cli import build_parser

    out = []
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += [(name, a) for a in sub._actions]
    return out


def test_every_cli_path_argument_is_expanded():
    """A guard for new commands: an argument whose help speaks of a file, folder or bag is a path."""
    import re

    words = re.compile(r"\b(file|files|directory|folder|bag|weights|dataset directory)\b", re.I)
    checked = 0
    for command, action in _path_actions():
        if action.choices is not None or action.type in (int, float):
            continue  # a choice or a number is never a path
        if action.help and words.search(action.help) and "topic" not in action.dest and action.nargs != 0:
            assert getattr(action.type, "_seal_path", False), f"seal-ros {command} {action.dest}: not a path type"
            checked += 1
    assert checked >= 10


def test_cli_expands_paths_given_literally(tmp_path, monkeypatch, capsys):
    from seal_ros.cli import main

    (tmp_path / "ds").mkdir()
    monkeypatch.setenv("SEAL_TEST_DIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    for given in ("$SEAL_TEST_DIR/ds", "~/ds"):
        assert main(["pairs-info", given]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.strip() == f"seal-ros pairs-info: error: {tmp_path}/ds: no pairs.jsonl (not a pairs dataset)"
