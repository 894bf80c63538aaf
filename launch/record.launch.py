"""Record time-synchronised event–image pairs alone (DSEC layout).

    ros2 launch seal_ros record.launch.py image_topic:=/dvs/image_raw output_dir:=/data/pairs
    ros2 service call /pair_recorder/start std_srvs/srv/Trigger
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

ARGS = {
    "events_topic": ("/event_camera/events", "event_camera_msgs/EventPacket topic from the driver"),
    "image_topic": ("/camera/image_raw", "sensor_msgs/Image topic to pair with"),
    "output_dir": ("~/seal_ros_pairs", "where sessions are written"),
    "record_on_start": ("false", "start recording immediately"),
}


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare("seal_ros"), "config", "perception.yaml"])
    overrides = {name: LaunchConfiguration(name) for name in ARGS}
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, (default, text) in ARGS.items()]
        + [Node(package="seal_ros", executable="pair_recorder", name="pair_recorder",
                parameters=[config, overrides], output="screen")]
    )
