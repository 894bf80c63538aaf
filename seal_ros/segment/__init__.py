"""Interactive segmentation plumbing (no rclpy): prompts, RViz clicks, vocabularies,
overlays and the clickable image plane. The SEAL model itself lives in
:mod:`seal_ros.seal`; the ROS adapter in :mod:`seal_ros.nodes.seal_segmenter`.
"""
