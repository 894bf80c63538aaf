"""Event-camera perception: reconstruction + SEAL segmentation (+ recording).

    ros2 launch seal_ros perception.launch.py events_topic:=/event_camera/events rviz:=true
    ros2 launch seal_ros perception.launch.py vocabulary:="['car', 'person']" device:=cuda record:=true

Every parameter comes from config/perception.yaml; the arguments below
override the few that differ between robots.
"""
import yaml
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare

ARGS = {
    "events_topic": ("/event_camera/events", "event_camera_msgs/EventPacket topic from the driver"),
    "image_topic": ("/camera/image_raw", "sensor_msgs/Image topic (APS or frame camera) for the complementary filter and recording"),
    "namespace": ("", "namespace for all nodes"),
    "device": ("auto", "torch device: cpu, cuda or auto"),
    "models_dir": ("~/.cache/seal_ros/models", "folder with the checkpoints listed in models/manifest.yaml"),
    "vocabulary": ("", "initial vocabulary as a YAML list, e.g. \"['car', 'person']\" (empty: the config file's)"),
    "rviz": ("false", "start RViz2 with rviz/seal.rviz"),
    "record": ("false", "also start pair_recorder"),
}


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context) for name in ARGS}
    config = PathJoinSubstitution([FindPackageShare("seal_ros"), "config", "perception.yaml"])
    common = {"events_topic": arg["events_topic"]}
    segmenter = {**common, "device": arg["device"], "models_dir": arg["models_dir"]}
    if arg["vocabulary"].strip():
        segmenter["vocabulary"] = [str(v) for v in yaml.safe_load(arg["vocabulary"])]
    frames = [("~/frames", arg["image_topic"])]
    namespace = [PushRosNamespace(arg["namespace"])] if arg["namespace"] else []
    return namespace + [
        Node(package="seal_ros", executable="event_reconstructor", name="event_reconstructor",
             parameters=[config, {**common, "device": arg["device"]}], remappings=frames, output="screen"),
        Node(package="seal_ros", executable="seal_segmenter", name="seal_segmenter",
             parameters=[config, segmenter],
             remappings=[("~/image_in", "event_reconstructor/image")], output="screen"),
        Node(package="seal_ros", executable="pair_recorder", name="pair_recorder",
             parameters=[config, {**common, "image_topic": arg["image_topic"]}],
             condition=IfCondition(arg["record"]), output="screen"),
        Node(package="rviz2", executable="rviz2", name="rviz2",
             arguments=["-d", PathJoinSubstitution([FindPackageShare("seal_ros"), "rviz", "seal.rviz"])],
             condition=IfCondition(arg["rviz"]), output="screen"),
    ]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, (default, text) in ARGS.items()]
        + [OpaqueFunction(function=_nodes)]
    )
