"""Vocabulary and prompt-template validation."""
import pytest

from seal_ros.segment import vocabulary as V


def test_valid_vocabulary_is_cleaned():
    assert V.check_vocabulary(["car", "  traffic   light ", "Person"]) is None
    assert V.clean_vocabulary([" traffic \t light "]) == ["traffic light"]


@pytest.mark.parametrize("names, needle", [
    ([], "empty"),
    (["car", " CAR "], "repeats"),
    (["car", "traffic  light", "Traffic light"], "repeats"),
    (["car", "   "], "blank"),
    (["x" * (V.MAX_NAME_CHARS + 1)], "characters"),
    ([f"c{i}" for i in range(V.MAX_CLASSES + 1)], "at most"),
    ("car", "list of strings"),
    (["car", 3], "not a string"),
    (["bad\x00name"], "control"),
])
def test_invalid_vocabulary_has_a_reason(names, needle):
    reason = V.check_vocabulary(names)
    assert reason is not None and needle in reason
    with pytest.raises(ValueError):
        V.clean_vocabulary(names)


def test_limits_are_inclusive():
    assert V.check_vocabulary([f"c{i}" for i in range(V.MAX_CLASSES)]) is None
    assert V.check_vocabulary(["x" * V.MAX_NAME_CHARS]) is None


@pytest.mark.parametrize("templates, ok", [
    (["a photo of a {}."], True),
    (["{}", "a {} in the scene"], True),
    ([], False),
    (["no placeholder"], False),
    (["{} and {}"], False),
    (["{name}"], False),
    (["a {}", "a {}"], False),
])
def test_templates(templates, ok):
    assert (V.check_templates(templates) is None) == ok


def test_expand():
    assert V.expand(["car", " bus "], ["a {}.", "{}"]) == [["a car.", "car"], ["a bus.", "bus"]]
