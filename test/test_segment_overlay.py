"""Overlay drawing."""
import numpy as np

from seal_ros.segment.overlay import Drawn, colour, draw_overlay, fit_image, label_text


def test_mask_is_tinted_with_its_colour_and_the_rest_kept():
    img = np.full((60, 80, 3), 100, np.uint8)
    mask = np.zeros((60, 80), bool)
    mask[20:40, 30:50] = True
    out = draw_overlay(img, [Drawn(key=3, mask=mask)], alpha=0.5)
    assert out.shape == img.shape and out.dtype == np.uint8
    expected = (np.full(3, 100.0) * 0.5 + np.array(colour(3)) * 0.5).astype(np.uint8)
    assert np.array_equal(out[30, 40], expected)
    assert np.array_equal(out[5, 5], img[5, 5])
    assert np.array_equal(img, np.full((60, 80, 3), 100, np.uint8))  # input untouched


def test_box_and_label_are_drawn():
    img = np.zeros((100, 200, 3), np.uint8)
    out = draw_overlay(img, [Drawn(key=0, box=(50, 40, 150, 90), label=label_text("car", 0.87))])
    assert (out[65, 50] == colour(0)).all()  # left edge of the box
    assert out[10:40, 50:150].any()  # label above the box
    assert not out[95:, :40].any()


def test_prompt_box_pending_and_banner():
    img = np.zeros((100, 200, 3), np.uint8)
    out = draw_overlay(img, [], prompt_boxes=[(1, (20, 20, 80, 80))], pending=(150, 50), banner="NO MODEL")
    assert out[20, 20:80].any() and out[50, 150].any() and out[:15, :60].any()


def test_fit_image():
    assert fit_image(np.zeros((10, 20), np.uint8), 20, 10).shape == (10, 20, 3)
    assert fit_image(np.zeros((5, 10, 3), np.uint8), 20, 10).shape == (10, 20, 3)


def test_label_text():
    assert label_text("car", 0.871) == "car 0.87"
    assert label_text("wheel", 0.5, "part") == "wheel 0.50 [part]"


def test_overlapping_masks_later_on_top_and_empty_mask_ignored():
    img = np.zeros((40, 40, 3), np.uint8)
    a = np.zeros((40, 40), bool)
    a[5:25, 5:25] = True
    b = np.zeros((40, 40), bool)
    b[15:35, 15:35] = True
    out = draw_overlay(img, [Drawn(0, a), Drawn(1, b), Drawn(2, np.zeros((40, 40), bool))], alpha=1.0)
    assert tuple(out[20, 20]) == colour(1) and tuple(out[10, 10]) == colour(0) and not out[2, 38].any()


def test_mask_outline_is_drawn_in_full_colour():
    img = np.zeros((40, 40, 3), np.uint8)
    m = np.zeros((40, 40), bool)
    m[10:30, 10:30] = True
    out = draw_overlay(img, [Drawn(4, m)], alpha=0.3)
    assert tuple(out[10, 20]) == colour(4) and tuple(out[29, 20]) == colour(4)  # border pixels
    assert tuple(out[20, 20]) != colour(4) and out[20, 20].any()  # inside: tinted only
    assert not out[9, 20].any()  # outside untouched
