"""Record time-synchronised event–image pairs alone (DSEC layout).

    ros2 launch seal_ros record.launch.py image_topic:=/dvs/image_raw output_dir:=/data/pairs
    ros2 service call /pair_recorder/start std_srvs/srv/Trigger

Parameters: the package's config/perception.yaml, then ``params_file`` over it,
then the arguments below that are not empty.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare
from seal_ros.io.paths import expand_path

ARGS = {
    "namespace": ("", "namespace of the node (its relative topics move with it)"),
    "events_topic": ("", "EventPacket topic (empty: the config's event_camera/events, relative)"),
    "image_topic": ("", "sensor_msgs/Image topic to pair with (empty: the config's camera/image_raw, relative)"),
    "output_dir": ("", "where sessions are written, ~ and $VARS expanded (empty: the config's ~/seal_ros_pairs)"),
    "record_on_start": ("", "start recording immediately: true or false (empty: the config's, false)"),
    "params_file": ("", "a YAML parameter file applied over the package's config/perception.yaml (~ and $VARS expanded)"),
    "use_sim_time": ("false", "use /clock (bag replay with --clock)"),
    "log_level": ("info", "log level: debug, info, warn, error"),
}


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context).strip() for name in ARGS}
    given = {k: v for k, v in arg.items() if v}
    files = [PathJoinSubstitution([FindPackageShare("seal_ros"), "config", "perception.yaml"])]
    files += [expand_path(given["params_file"])] if "params_file" in given else []
    params = {"use_sim_time": arg["use_sim_time"].lower() == "true"}
    params.update({k: given[k] for k in ("events_topic", "image_topic", "output_dir") if k in given})
    if "record_on_start" in given:
        params["record_on_start"] = given["record_on_start"].lower() == "true"
    actions = [PushRosNamespace(arg["namespace"])] if arg["namespace"] else []
    return actions + [Node(package="seal_ros", executable="pair_recorder", name="pair_recorder",
                           parameters=files + [params], ros_arguments=["--log-level", arg["log_level"]],
                           output="screen")]


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, (default, text) in ARGS.items()]
        + [OpaqueFunction(function=_nodes)]
    )
