"""Renders docs/img/segmenter_auto.png: automatic mode on the real evt3 recording, with the TINY RANDOM model.

    scripts/with-env python docs/img/segmenter_auto.py

Left: the event image of a 50 ms window with the window's automatic prompts: SAM's 16 x 16 grid where
there are events near the point (white) and the event-density sampler's points (orange). Those do not
depend on the weights. Right: ~/overlay of that window and the next two, in automatic mode with the
tiny RANDOM test model (the real SEAL weights are not on the machine that made the picture): the
masks and class names are meaningless; what the panels show is the plumbing: every kept mask named
against the vocabulary, labelled with its track id, and the ids carried from window to window.
"""
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main():
    import cv2
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from seal_ros.events.source import WindowSource
    from seal_ros.io.packetize import event_packets
    from seal_ros.io.recordings import open_recording
    from seal_ros.segment.auto import AutoConfig, generate_points, grid_points
    from seal_ros.segment.event_images import make_event_image
    from seal_ros.segment.loading import load_predictor
    from seal_ros.segment.overlay import draw_overlay
    from seal_ros.segment.pipeline import SegmentConfig, WindowSegmenter, auto_class_lists, drawn_results
    from seal_ros.segment.runner import combine_vocabularies
    from seal_ros.segment.vocabulary import DEFAULT_VOCABULARY

    src = WindowSource("duration", 50_000_000)
    wins = [w for p in event_packets(open_recording(ROOT.parent / "shared" / "data" / "evt3_640x480"))
            for w in src.push(p).windows]
    k = max(range(len(wins) - 2), key=lambda i: sum(w.count for w in wins[i:i + 3]))  # the busiest 150 ms
    pred, _ = load_predictor("tiny", None, "cpu")
    # a random model: the generator's thresholds would keep nothing, so they are opened for the picture
    cfg = AutoConfig(pred_iou_thresh=0.0, stability_score_thresh=0.0, min_class_score=0.0, max_instances=6)
    pred.set_auto_vocabulary(*auto_class_lists(DEFAULT_VOCABULARY, (), ()))
    seg = WindowSegmenter(SegmentConfig("auto", cfg))
    panels, titles = [], []
    for j, w in enumerate(wins[k:k + 3]):
        img = make_event_image("voxel", w.window.events, w.width, w.height)
        out = seg.process(pred, img, w.seq, w.window.events, w.width, w.height)
        if j == 0:
            pts = generate_points(w.window.events, w.width, w.height, cfg)
            grid = {tuple(p) for p in grid_points(w.width, w.height, cfg.points_per_side).tolist()}
            dots = img.copy()
            for x, y in pts.tolist():
                cv2.circle(dots, (int(x), int(y)), 4, (255, 255, 255) if (x, y) in grid else (255, 140, 0), -1)
            panels.append(dots)
            titles.append(f"window {j}: {len(pts)} automatic prompts\n(white: SAM grid near events; "
                          "orange: density sampler)")
        vocab, idx = combine_vocabularies(out.results, ())
        panels.append(draw_overlay(img, drawn_results(out.results, vocab, idx, out.track_ids), 0.45, (), None,
                                   "tiny RANDOM model: masks and classes meaningless"))
        titles.append(f"window {j}: ~/overlay, track ids {sorted(set(out.track_ids))}")
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4))
    for ax, im, t in zip(axes, panels, titles):
        ax.imshow(im)
        ax.set_title(t, fontsize=10)
        ax.axis("off")
    fig.suptitle("seal_segmenter mode: auto, on the shared evt3 640x480 recording, 50 ms windows "
                 "(TINY RANDOM test model: the masks and classes mean nothing)", fontsize=12)
    fig.tight_layout()
    out_path = ROOT / "docs" / "img" / "segmenter_auto.png"
    fig.savefig(out_path, dpi=72)
    print(out_path)


if __name__ == "__main__":
    main()
