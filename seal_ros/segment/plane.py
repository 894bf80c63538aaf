"""The clickable image plane: the event image as ``nav_msgs/OccupancyGrid`` data.

RViz2's Image display cannot be clicked, but its stock "Publish Point" tool
reports the 3-D point under the mouse on any rendered geometry. The segmenter
therefore also publishes the current image as a flat grid in a frame of its
own, one cell a pixel, and maps clicks back to pixels (:mod:`.clicks`).

Why an OccupancyGrid rather than an RGB PointCloud2: RViz2's Map display draws
the grid as ONE textured quad, so every click inside the image hits geometry
(a point cloud is a set of separate squares, gaps and all), and it costs one
byte a pixel (307 kB for 640x480) instead of 16-32 for a cloud; colour (masks,
labels) is shown by the overlay image and the box markers instead.

Layout (REP-103 map convention, viewed from above with x right, y up): cell
(col, row) covers ``[ox + col*r, ox + (col+1)*r) x [oy + row*r, oy + (row+1)*r)``
and grid row 0 is the image's BOTTOM row, so the picture appears upright:
image pixel (u, v) is cell (u, H - 1 - v).

Encodings (parameter ``plane_encoding``):
- ``raw``: the grey level 0..255 stored as int8 (two's complement, as RViz's
  'raw' colour scheme reads it back); full 8-bit contrast; out of the
  occupancy range 0..100, so meant for display only.
- ``occupancy``: ``100 - round(grey * 100 / 255)``, inside the 0..100 range, so
  RViz's default 'map' scheme draws bright pixels light and dark ones dark.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENCODINGS = ("raw", "occupancy")


@dataclass(frozen=True)
class PlaneGeometry:
    width: int  # cells = image columns
    height: int  # cells = image rows
    resolution: float = 0.01  # metres per pixel
    origin_x: float = 0.0  # position of the image's bottom-left corner in frame_id
    origin_y: float = 0.0
    frame_id: str = "seal_image_plane"

    def pixel_to_world(self, u: float, v: float) -> tuple[float, float]:
        """Plane coordinates of continuous pixel position (u, v) (pixel centres at +0.5)."""
        return self.origin_x + u * self.resolution, self.origin_y + (self.height - v) * self.resolution

    def world_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        """Continuous pixel position (u, v) of plane point (x, y); inverse of :meth:`pixel_to_world`."""
        return (x - self.origin_x) / self.resolution, self.height - (y - self.origin_y) / self.resolution

    def info(self) -> dict:
        """Fields of ``nav_msgs/MapMetaData`` (less the time stamp); origin orientation is identity."""
        return dict(resolution=float(self.resolution), width=int(self.width), height=int(self.height),
                    origin_xyz=(float(self.origin_x), float(self.origin_y), 0.0))


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8 HxW grey of an HxW or HxWx3 uint8 image (ITU-R 601 luma)."""
    if image.ndim == 2:
        return image.astype(np.uint8, copy=False)
    img = image.astype(np.uint16)
    return ((img[..., 0] * 77 + img[..., 1] * 150 + img[..., 2] * 29) >> 8).astype(np.uint8)


def grid_data(image: np.ndarray, encoding: str = "raw") -> np.ndarray:
    """The OccupancyGrid ``data`` (int8, length H*W, row 0 = image bottom) for ``image``."""
    if encoding not in ENCODINGS:
        raise ValueError(f"plane encoding {encoding!r} is not one of {ENCODINGS}")
    grey = to_grey(image)[::-1]  # grid rows go up, image rows go down
    if encoding == "raw":
        cells = grey.view(np.int8)
    else:
        cells = (100 - np.round(grey.astype(np.float32) * (100.0 / 255.0))).astype(np.int8)
    return np.ascontiguousarray(cells).reshape(-1)


def grid_to_image(data: np.ndarray, width: int, height: int, encoding: str = "raw") -> np.ndarray:
    """Inverse of :func:`grid_data` (for tests and tools): uint8 HxW grey."""
    cells = np.asarray(data, np.int8).reshape(height, width)[::-1]
    if encoding == "raw":
        return np.ascontiguousarray(cells).view(np.uint8)
    return np.clip(np.round((100 - cells.astype(np.float32)) * 2.55), 0, 255).astype(np.uint8)
