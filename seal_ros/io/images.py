"""sensor_msgs/Image <-> numpy, without cv_bridge (works on rclpy and rosbags messages)."""
from __future__ import annotations

import numpy as np

_CHANNELS = {"mono8": 1, "8UC1": 1, "rgb8": 3, "bgr8": 3, "8UC3": 3, "rgba8": 4, "bgra8": 4, "mono16": 1, "16UC1": 1}


class ImageError(ValueError):
    pass


def image_msg_to_array(msg) -> np.ndarray:
    """uint8 HxW (mono) or HxWx3 (RGB) array; bgr/bgra are converted to rgb, mono16 scaled to 8 bits."""
    enc = str(msg.encoding)
    if enc not in _CHANNELS:
        raise ImageError(f"unsupported image encoding {enc!r}")
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    ch = _CHANNELS[enc]
    depth = 2 if enc in ("mono16", "16UC1") else 1
    data = np.frombuffer(msg.data, np.uint8) if not isinstance(msg.data, np.ndarray) else msg.data.view(np.uint8)
    if h <= 0 or w <= 0 or step < w * ch * depth or len(data) < h * step:
        raise ImageError(f"image {w}x{h} {enc} with step {step} and {len(data)} bytes is inconsistent")
    rows = data[: h * step].reshape(h, step)[:, : w * ch * depth]
    if depth == 2:
        dt = ">u2" if msg.is_bigendian else "<u2"
        img = (rows.copy().view(dt).reshape(h, w) >> 8).astype(np.uint8)
        return img
    img = rows.reshape(h, w, ch) if ch > 1 else rows.reshape(h, w)
    if enc in ("bgr8", "bgra8"):
        img = img[..., 2::-1] if ch == 4 else img[..., ::-1]
    elif enc == "rgba8":
        img = img[..., :3]
    return np.ascontiguousarray(img)


def array_to_image_fields(img: np.ndarray) -> dict:
    """Fields for a sensor_msgs/Image holding ``img`` (uint8 HxW -> mono8, HxWx3 -> rgb8)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    if img.ndim == 2:
        enc, ch = "mono8", 1
    elif img.ndim == 3 and img.shape[2] == 3:
        enc, ch = "rgb8", 3
    else:
        raise ImageError(f"cannot publish an array of shape {img.shape}")
    h, w = img.shape[:2]
    return dict(height=h, width=w, encoding=enc, is_bigendian=0, step=w * ch, data=img.tobytes())


def to_gray(img: np.ndarray, fmt: str = "RGB") -> np.ndarray:
    """uint8 HxW: a mono image as it is, a colour one (RGB, RGBA, or BGR/BGRA as ``fmt`` says) by
    ITU-R 601 luminance of its first three channels; 16-bit pixels keep their high byte."""
    img = np.asarray(img)
    if img.ndim == 3:
        if img.shape[2] == 1:
            img = img[:, :, 0]
        else:
            c = img[:, :, :3].astype(np.float32)
            if fmt.upper().startswith("BGR"):
                c = c[:, :, ::-1]
            img = np.clip(c @ np.array([0.299, 0.587, 0.114], np.float32) + 0.5, 0, 255)
    if img.dtype != np.uint8:
        if img.dtype == np.uint16:
            img = (img >> 8).astype(np.uint8)
        else:
            img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
