"""Writing image sequences: PNG frames, GIF/MP4 clips, contact sheets."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def to_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.uint8)
    return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., :3]


def write_png(path, img: np.ndarray) -> Path:
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.asarray(img, dtype=np.uint8))
    return path


def write_clip(path, frames: Sequence[np.ndarray], fps: float = 10.0) -> Path:
    """A GIF or MP4 (by suffix) of ``frames`` (all the same size)."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rgb = [to_rgb(f) for f in frames]
    if not rgb:
        raise ValueError("no frames to write")
    if path.suffix == ".gif":
        iio.imwrite(path, np.stack(rgb), duration=1000.0 / fps, loop=0)
    else:  # MP4 through imageio-ffmpeg; macro_block_size=1 keeps odd sensor sizes (346x260) as they are
        iio.imwrite(path, np.stack(rgb), fps=fps, codec="libx264", macro_block_size=1)
    return path


def contact_sheet(frames: Sequence[np.ndarray], columns: int = 4, labels: Sequence[str] | None = None,
                  cell_width: int = 320) -> np.ndarray:
    """Frames tiled on a grid (resized to ``cell_width``), each with an optional label."""
    import cv2

    if not frames:
        raise ValueError("no frames for a contact sheet")
    cells = []
    for i, f in enumerate(frames):
        f = to_rgb(f)
        h = max(1, round(f.shape[0] * cell_width / f.shape[1]))
        cell = cv2.resize(f, (cell_width, h), interpolation=cv2.INTER_AREA)
        if labels is not None and i < len(labels):
            cv2.rectangle(cell, (0, 0), (cell_width, 18), (0, 0, 0), -1)
            cv2.putText(cell, str(labels[i]), (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
        cells.append(cell)
    ch = max(c.shape[0] for c in cells)
    rows = []
    for r in range(0, len(cells), columns):
        row = [np.pad(c, ((0, ch - c.shape[0]), (0, 0), (0, 0))) for c in cells[r:r + columns]]
        row += [np.zeros((ch, cell_width, 3), np.uint8)] * (columns - len(row))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)
