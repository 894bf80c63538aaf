"""The configurable event image fed to EventSAM."""
import numpy as np
import pytest

from seal_ros.events.representations import event_image
from seal_ros.events.types import EventArray
from seal_ros.segment.event_images import REPRESENTATIONS, make_event_image


def _events():
    x = np.array([0, 1, 1, 3], np.uint16)
    y = np.array([0, 0, 0, 2], np.uint16)
    p = np.array([1, 0, 1, 1], np.uint8)
    t = np.array([0, 10, 20, 30], np.int64) * 1_000_000
    return EventArray(x, y, p, t)


def test_voxel_is_the_documented_default():
    ev = _events()
    np.testing.assert_array_equal(make_event_image("voxel", ev, 4, 3), event_image(ev, 4, 3, num_bins=3))


def test_histogram_channels_are_on_off_and_total_scaled_by_the_max():
    img = make_event_image("histogram", _events(), 4, 3)
    assert img.shape == (3, 4, 3) and img.dtype == np.uint8
    # pixel (0,1): one ON and one OFF -> total 2 is the image's max
    assert tuple(img[0, 1]) == (128, 128, 255)
    assert tuple(img[0, 0]) == (128, 0, 128) and tuple(img[2, 3]) == (128, 0, 128)
    assert img[1].sum() == 0


def test_time_surface_is_one_at_the_latest_event():
    img = make_event_image("time_surface", _events(), 4, 3)
    assert tuple(img[2, 3]) == (255, 0, 255)  # the latest event, ON
    assert 0 < img[0, 0, 0] < 255 and img[0, 0, 1] == 0


def test_every_representation_gives_three_channels_and_unknown_is_refused():
    for kind in REPRESENTATIONS:
        assert make_event_image(kind, _events(), 4, 3).shape == (3, 4, 3)
        assert make_event_image(kind, EventArray.empty(), 4, 3).sum() == 0
    with pytest.raises(ValueError, match="unknown event representation"):
        make_event_image("rgb", _events(), 4, 3)
