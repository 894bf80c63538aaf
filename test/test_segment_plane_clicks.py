"""Image plane geometry and encodings; clicks -> pixels -> prompts."""
import numpy as np
import pytest

from seal_ros.segment.clicks import (CLICK_ID_BASE, ClickError, ClickPrompter, image_click_to_pixel,
                                     plane_click_to_pixel)
from seal_ros.segment.plane import PlaneGeometry, grid_data, grid_to_image, to_grey


def cell_centre(geo, col, row):
    return geo.pixel_to_world(col + 0.5, row + 0.5)


@pytest.mark.parametrize("res, ox, oy", [(0.01, 0.0, 0.0), (0.005, -1.6, -1.2), (1.0, 3.0, -7.0)])
def test_every_cell_centre_maps_back_to_its_pixel(res, ox, oy):
    geo = PlaneGeometry(64, 48, res, ox, oy, "plane")
    for col, row in [(0, 0), (63, 0), (0, 47), (63, 47), (17, 29)]:
        x, y = cell_centre(geo, col, row)
        assert plane_click_to_pixel(geo, x, y, "plane") == (col, row)


def test_plane_rows_go_up_image_rows_go_down():
    geo = PlaneGeometry(4, 3, 0.5, 0.0, 0.0)
    # top-left image pixel lies at the TOP of the plane (largest y)
    x, y = cell_centre(geo, 0, 0)
    assert (x, y) == (0.25, 1.25)


def test_click_outside_or_in_other_frame_is_refused():
    geo = PlaneGeometry(64, 48, 0.01, 0, 0, "seal_image_plane")
    with pytest.raises(ClickError, match="outside"):
        plane_click_to_pixel(geo, 0.65, 0.1, "seal_image_plane")
    with pytest.raises(ClickError, match="Fixed Frame"):
        plane_click_to_pixel(geo, 0.1, 0.1, "map")
    assert plane_click_to_pixel(geo, 0.105, 0.1, "") == (10, 38)  # empty frame: taken as the plane's
    with pytest.raises(ClickError, match="non-finite"):
        plane_click_to_pixel(geo, float("nan"), 0.1)


def test_grid_data_raw_roundtrip_and_orientation():
    img = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    data = grid_data(img, "raw")
    assert data.dtype == np.int8 and data.shape == (35,)
    assert np.array_equal(grid_to_image(data, 7, 5, "raw"), to_grey(img))
    # grid row 0 = image bottom row
    assert np.array_equal(data[:7].view(np.uint8), to_grey(img)[-1])


def test_grid_data_occupancy_in_range_and_bright_is_free():
    img = np.zeros((2, 2), np.uint8)
    img[0, 0] = 255
    data = grid_data(img, "occupancy")
    assert data.min() >= 0 and data.max() <= 100
    grid = data.reshape(2, 2)[::-1]
    assert grid[0, 0] == 0 and grid[1, 1] == 100
    back = grid_to_image(data, 2, 2, "occupancy")
    assert back[0, 0] == 255 and back[1, 1] == 0


def test_two_clicks_make_a_box_in_any_order():
    cp = ClickPrompter("box")
    assert cp.click(100, 40) is None and cp.pending == (100, 40)
    p = cp.click(20, 90)
    assert p.box == (20.0, 40.0, 101.0, 91.0) and p.persistent and p.id == CLICK_ID_BASE
    assert cp.pending is None
    assert cp.click(1, 1) is None
    q = cp.click(1, 1)  # the same pixel twice: a one-pixel box
    assert q.box == (1.0, 1.0, 2.0, 2.0) and q.id == CLICK_ID_BASE + 1


def test_point_mode_and_mode_change_drops_pending():
    cp = ClickPrompter("box")
    cp.click(5, 5)
    cp.mode = "point"
    assert cp.pending is None
    p = cp.click(7, 8)
    assert p.box is None and p.points.tolist() == [[7.5, 8.5]] and p.point_labels.tolist() == [1]
    with pytest.raises(ValueError):
        cp.mode = "lasso"


def test_pending_corner_expires():
    now = [0.0]
    cp = ClickPrompter("box", pending_timeout_s=5.0, clock=lambda: now[0])
    cp.click(1, 1)
    now[0] = 6.0
    assert cp.pending is None
    assert cp.click(10, 10) is None  # a new first corner, not a box with the stale one


def test_image_click():
    assert image_click_to_pixel(10.7, 3.2, 64, 48) == (10, 3)
    with pytest.raises(ClickError):
        image_click_to_pixel(64.0, 3.0, 64, 48)
