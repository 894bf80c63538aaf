"""One module per recording format behind :mod:`seal_ros.io.recordings` (each defines ``FORMAT``)."""
