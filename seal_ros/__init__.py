"""seal_ros: event-camera perception for ROS 2 (E2V reconstruction, SEAL segmentation).

The core subpackages (events, io, e2v, seal, recorder, train, evaluation) never
import rclpy; only :mod:`seal_ros.nodes` does.
"""
# In a development checkout the generated messages (``seal_ros.msg``) live in the
# colcon install space, while the sources live here: let Python find both.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
__version__ = "0.1.0"
