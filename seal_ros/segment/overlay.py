"""The rgb8 overlay: coloured masks, boxes and labels on the event image (or a reconstruction)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

# Distinct, colour-blind-friendly colours (Okabe-Ito, then Tableau), RGB.
PALETTE = np.array([
    (230, 159, 0), (86, 180, 233), (0, 158, 115), (240, 228, 66), (0, 114, 178), (213, 94, 0),
    (204, 121, 167), (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
], np.uint8)


def colour(key: int) -> tuple[int, int, int]:
    """A stable colour for an id (prompt id, so one object keeps its colour across windows)."""
    return tuple(int(c) for c in PALETTE[int(key) % len(PALETTE)])


@dataclass
class Drawn:
    """One thing to draw: a mask (bool HxW) and/or a box, with a label."""
    key: int
    mask: Optional[np.ndarray] = None
    box: Optional[Sequence[float]] = None
    label: str = ""


def fit_image(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` as uint8 HxWx3 of the given size (grey expanded, other sizes resized)."""
    import cv2

    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise ValueError(f"overlay background must be uint8, got {img.dtype}")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.shape[:2] != (height, width):
        img = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(img)


def draw_overlay(image: np.ndarray, items: Sequence[Drawn], alpha: float = 0.45,
                 prompt_boxes: Sequence[tuple] = (), pending: Optional[tuple] = None,
                 banner: str = "") -> np.ndarray:
    """A new rgb8 image: ``image`` with every item's mask tinted, box outlined and label written.

    ``prompt_boxes`` (key, box) are drawn thin and dashed-looking (the prompt, not
    the result); ``pending`` is a first box corner (col, row) waiting for its
    partner; ``banner`` is a line of text at the top (e.g. a warning).
    """
    import cv2

    out = np.array(image, dtype=np.uint8, copy=True)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    h, w = out.shape[:2]
    tinted = [(it, _crop(it.mask)) for it in items if it.mask is not None]
    tinted = [(it, c) for it, c in tinted if c is not None]
    if tinted:
        # Single-channel label maps built with OpenCV masked operations (cost independent of the
        # masks' shapes, no contour tracing), then coloured with one look-up table: later masks
        # lie on top; each mask also gets a one-pixel outline in its full colour.
        label = np.zeros((h, w), np.uint8)
        outline = np.zeros((h, w), np.uint8)
        lut = np.zeros((256, 1, 3), np.uint8)
        kernel = np.ones((3, 3), np.uint8)
        for k, (it, _) in enumerate(tinted[:255], 1):
            m = np.ascontiguousarray(it.mask, dtype=bool).view(np.uint8)
            lut[k, 0] = colour(it.key)
            edge = cv2.subtract(m, cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE))
            for dst, sel in ((label, m), (outline, edge)):
                cv2.bitwise_and(dst, 0, dst=dst, mask=sel)
                cv2.bitwise_or(dst, k, dst=dst, mask=sel)
        if alpha > 0:
            tint = cv2.LUT(cv2.merge([label, label, label]), lut)
            cv2.copyTo(cv2.addWeighted(out, 1.0 - alpha, tint, alpha, 0.0), label, out)
        cv2.copyTo(cv2.LUT(cv2.merge([outline, outline, outline]), lut), outline, out)
    for key, box in prompt_boxes:  # boxes are [x0, x1) x [y0, y1): the last pixel column/row is x1 - 1
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        _dashed_rect(out, (x0, y0), (x1 - 1, y1 - 1), (255, 255, 255))
    for it in items:
        if it.box is not None:
            x0, y0, x1, y1 = (int(round(v)) for v in it.box)
            cv2.rectangle(out, (x0, y0), (x1 - 1, y1 - 1), colour(it.key), 2, cv2.LINE_AA)
            anchor = (x0, y0)
        elif it.mask is not None and _crop(it.mask) is not None:
            ys, xs = _crop(it.mask)
            anchor = (xs.start, ys.start)
        else:
            continue
        if it.label:
            _label(out, it.label, anchor, colour(it.key))
    if pending is not None:
        c, r = int(pending[0]), int(pending[1])
        cv2.drawMarker(out, (c, r), (255, 255, 255), cv2.MARKER_CROSS, 14, 2, cv2.LINE_AA)
    if banner:
        scale = max(0.4, w / 1200)
        (tw, th), base = cv2.getTextSize(banner, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(out, (0, 0), (min(w, tw + 8), th + base + 6), (0, 0, 0), -1)
        cv2.putText(out, banner, (4, th + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 80, 80), 1, cv2.LINE_AA)
    return out


def _crop(mask: np.ndarray):
    """(row slice, column slice) of the mask's bounding box, or None when empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0]:rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _label(out: np.ndarray, text: str, anchor: tuple, col: tuple) -> None:
    import cv2

    h, w = out.shape[:2]
    scale = max(0.4, w / 1400)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = min(max(0, anchor[0]), max(0, w - tw - 4))
    y = anchor[1] - 4 if anchor[1] - th - base - 4 >= 0 else anchor[1] + th + 4
    cv2.rectangle(out, (x, y - th - 2), (x + tw + 4, y + base), col, -1)
    luminance = 0.299 * col[0] + 0.587 * col[1] + 0.114 * col[2]
    cv2.putText(out, text, (x + 2, y), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0) if luminance > 140 else (255, 255, 255), 1, cv2.LINE_AA)


def _dashed_rect(out: np.ndarray, p0: tuple, p1: tuple, col: tuple, dash: int = 6) -> None:
    import cv2

    (x0, y0), (x1, y1) = p0, p1
    for a, b in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        n = max(1, int(np.hypot(b[0] - a[0], b[1] - a[1]) // dash))
        for i in range(0, n, 2):
            s = (int(a[0] + (b[0] - a[0]) * i / n), int(a[1] + (b[1] - a[1]) * i / n))
            e = (int(a[0] + (b[0] - a[0]) * min(i + 1, n) / n), int(a[1] + (b[1] - a[1]) * min(i + 1, n) / n))
            cv2.line(out, s, e, col, 1)


def label_text(class_name: str, class_score: float, granularity: str = "", track_id: int = 0) -> str:
    """``"car 0.87"`` (with ``" [part]"`` for part results, ``" #3"`` for track 3)."""
    txt = f"{class_name} {class_score:.2f}" if class_name else f"{class_score:.2f}"
    if granularity == "part":
        txt += " [part]"
    if track_id:
        txt += f" #{track_id}"
    return txt


def colour_key(result, track_id: int = 0) -> int:
    """What a result's colour follows: its track (one object keeps its colour), else its prompt."""
    return int(track_id) if track_id else int(result.prompt_id)
