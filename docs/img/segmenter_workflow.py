"""Renders docs/img/segmenter_workflow.png: the RViz2 click workflow on the real evt3 recording.

    scripts/with-env python docs/img/segmenter_workflow.py

Left: the image plane as RViz2 shows it (seal_segmenter's ~/plane, 'raw' colour
scheme) with two Publish Point clicks. Right: ~/overlay with the box prompt
those clicks make. Everything comes from the package's own code (window
source, event image, plane encoding, click mapping, overlay). No mask is drawn:
the real SEAL weights are not on the machine that made the picture, and a
random model's mask would be meaningless.
"""
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seal_ros.events.representations import event_image
    from seal_ros.io.bags import BagReader
    from seal_ros.segment.clicks import ClickPrompter, plane_click_to_pixel
    from seal_ros.segment.overlay import draw_overlay
    from seal_ros.segment.plane import PlaneGeometry, grid_data, grid_to_image
    from seal_ros.events.source import WindowSource

    src = WindowSource("duration", 50_000_000)
    wins = [w for pk in BagReader(ROOT.parent / "shared" / "data" / "evt3_640x480").event_packets()
            for w in src.push(pk).windows]
    win = max(wins, key=lambda w: w.count)  # the busiest 50 ms: a person walking through
    img = event_image(win.window.events, win.width, win.height)

    # where the events are dense: the object a user would box (largest blob of the smoothed event count)
    import cv2

    ev = win.window.events
    counts = np.bincount(ev.y.astype(np.int64) * win.width + ev.x, minlength=win.width * win.height)
    dense = cv2.blur(counts.reshape(win.height, win.width).astype(np.float32), (31, 31))
    blobs = (dense > 0.06 * dense.max()).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(blobs)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    u0, v0 = stats[k, cv2.CC_STAT_LEFT], stats[k, cv2.CC_STAT_TOP]
    u1, v1 = u0 + stats[k, cv2.CC_STAT_WIDTH] - 1, v0 + stats[k, cv2.CC_STAT_HEIGHT] - 1

    geo = PlaneGeometry(win.width, win.height, 0.01, 0.0, 0.0, "seal_image_plane")
    # the user boxes the walker's upper body: from above-left of the blob to below-right of its middle
    vm = (v0 + v1) // 2
    clicks_world = [geo.pixel_to_world(max(0, u0 - 6) + 0.5, max(0, v0) + 20.5),
                    geo.pixel_to_world(min(win.width - 1, u1 + 6) + 0.5, vm + 0.5)]
    prompter = ClickPrompter("box")
    prompt = None
    pixels = []
    for x, y in clicks_world:  # exactly what /clicked_point would carry
        px = plane_click_to_pixel(geo, x, y, "seal_image_plane")
        pixels.append(px)
        prompt = prompter.click(*px) or prompt
    overlay = draw_overlay(img, [], prompt_boxes=[(prompt.id, prompt.box)])

    plane = grid_to_image(grid_data(img, "raw"), win.width, win.height, "raw")
    fig, ax = plt.subplots(1, 2, figsize=(13, 5.4))
    w_m, h_m = win.width * geo.resolution, win.height * geo.resolution
    ax[0].imshow(plane[::-1], cmap="gray", vmin=0, vmax=255, origin="lower", extent=(0, w_m, 0, h_m))
    for i, ((x, y), (c, r)) in enumerate(zip(clicks_world, pixels), 1):
        ax[0].plot(x, y, "o", ms=9, mfc="none", mec="#ff3030", mew=2)
        ax[0].annotate(f"click {i}: ({x:.3f}, {y:.3f}) m\n-> pixel (u={c}, v={r})", (x, y), color="#c00000",
                       xytext=(-200 if i == 1 else 14, -36 if i == 1 else -24), textcoords="offset points", fontsize=9,
                       bbox=dict(fc="white", ec="none", alpha=0.85))
    ax[0].set_title("RViz2: Publish Point on ~/plane (frame seal_image_plane)", fontsize=10)
    ax[0].set_xlabel("x (m)")
    ax[0].set_ylabel("y (m)")
    ax[1].imshow(overlay)
    x0, y0, x1, y1 = prompt.box
    ax[1].set_title(f"~/overlay: box prompt {prompt.id} = ({x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f}) px", fontsize=10)
    ax[1].set_xlabel("u (px)")
    ax[1].set_ylabel("v (px)")
    fig.suptitle("seal_segmenter on the evt3 640x480 recording (50 ms window, "
                 f"{win.count} events). No mask drawn: real SEAL weights were not available "
                 "for this picture.", fontsize=10)
    fig.tight_layout()
    out = ROOT / "docs" / "img" / "segmenter_workflow.png"
    fig.savefig(out, dpi=90)
    print(f"wrote {out}: clicks at pixels {pixels}, box {prompt.box}")


if __name__ == "__main__":
    main()
