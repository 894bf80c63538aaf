"""Messages of ``seal_segmenter``'s picture outputs (images, the clickable plane, the instance markers),
built from the core's :class:`WindowOutput`; the results themselves (``InstanceMaskArray``) are built in
the node."""
from __future__ import annotations

import numpy as np

from seal_ros.io.images import array_to_image_fields
from seal_ros.segment.overlay import colour, colour_key
from seal_ros.segment.plane import PlaneGeometry, grid_data
from seal_ros.segment.runner import WindowOutput


def image_msg(img: np.ndarray, stamp, frame_id: str):
    from sensor_msgs.msg import Image

    msg = Image(**array_to_image_fields(img))
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def plane_msg(event_image: np.ndarray, geo: PlaneGeometry, encoding: str, stamp):
    """``nav_msgs/OccupancyGrid``: the image as a clickable plane (see seal_ros.segment.plane)."""
    from nav_msgs.msg import OccupancyGrid

    grid = OccupancyGrid()
    grid.header.stamp, grid.header.frame_id = stamp, geo.frame_id
    grid.info.map_load_time = stamp
    grid.info.resolution = float(geo.resolution)
    grid.info.width, grid.info.height = geo.width, geo.height
    grid.info.origin.position.x, grid.info.origin.position.y = float(geo.origin_x), float(geo.origin_y)
    grid.info.origin.orientation.w = 1.0
    grid.data = grid_data(event_image, encoding).tobytes()
    return grid


def markers_msg(out: WindowOutput, geo: PlaneGeometry, stamp):
    """``visualization_msgs/MarkerArray``: each instance's box and class name on the plane."""
    from geometry_msgs.msg import Point
    from visualization_msgs.msg import Marker, MarkerArray

    markers = [Marker(action=Marker.DELETEALL)]
    tracks = out.track_ids or [0] * len(out.results)
    for i, (r, ci, t) in enumerate(zip(out.results, out.class_indices, tracks)):
        if r.is_empty:
            continue
        x0, y0, x1, y1 = r.bbox
        corners = [geo.pixel_to_world(u, v) for u, v in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
        rgb = [c / 255.0 for c in colour(colour_key(r, t))]
        for kind, mid in ((Marker.LINE_STRIP, 2 * i), (Marker.TEXT_VIEW_FACING, 2 * i + 1)):
            m = Marker(type=kind, id=mid, ns="seal_instances", action=Marker.ADD)
            m.header.stamp, m.header.frame_id = stamp, geo.frame_id
            m.pose.orientation.w = 1.0
            m.color.r, m.color.g, m.color.b, m.color.a = rgb[0], rgb[1], rgb[2], 1.0
            if kind == Marker.LINE_STRIP:
                m.scale.x = 2 * geo.resolution
                m.points = [Point(x=x, y=y, z=0.01) for x, y in corners]
            else:
                m.scale.z = 16 * geo.resolution
                m.pose.position.x, m.pose.position.y, m.pose.position.z = corners[0][0], corners[0][1], 0.02
                m.text = (out.vocabulary[ci] if ci >= 0 else f"prompt {r.prompt_id}") + (f" #{t}" if t else "")
            markers.append(m)
    return MarkerArray(markers=markers)
