"""Event-camera perception: reconstruction + SEAL segmentation (+ recording, + RViz2).

    ros2 launch seal_ros perception.launch.py rviz:=true
    ros2 launch seal_ros perception.launch.py namespace:=robot1 model:=vit_b device:=cuda record:=true
    ros2 launch seal_ros perception.launch.py params_file:=my_params.yaml log_level:=debug

Every parameter comes from the package's config/perception.yaml, then from
``params_file`` (a user's YAML in the same layout) over it, then from the
arguments below that are not empty. Input topics are relative, so
``namespace:=robot1`` moves the whole graph (``/robot1/event_camera/events``).
"""
import yaml
from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, LogInfo, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node, PushRosNamespace
from launch_ros.substitutions import FindPackageShare
from seal_ros.io.paths import expand_path

ARGS = {
    "namespace": ("", "namespace of all nodes (their relative topics move with it)"),
    "events_topic": ("", "EventPacket topic (empty: the config's event_camera/events, relative)"),
    "image_topic": ("", "sensor_msgs/Image topic of a frame camera, for ~/frames and recording (empty: camera/image_raw)"),
    "model": ("", "SEAL model: vit_b (the published weights), the path of a seal.pt trained by seal-ros train "
              "seal, or tiny (random, tests only); empty: the config's"),
    "device": ("", "torch device of both nodes: auto, cpu, cuda, cuda:N (empty: the config's)"),
    "models_dir": ("", "checkpoint folder, ~ and $VARS expanded (empty: $SEAL_ROS_MODELS or ~/.cache/seal_ros/models)"),
    "vocabulary": ("", "initial vocabulary as a YAML list, e.g. \"['car', 'person']\" (empty: the config's)"),
    "image_reliability": ("", "QoS of published images: reliable or best_effort (empty: the config's, reliable)"),
    "params_file": ("", "a YAML parameter file applied over the package's config/perception.yaml (~ and $VARS expanded)"),
    "use_sim_time": ("false", "use /clock (bag replay with --clock)"),
    "log_level": ("info", "log level of the nodes: debug, info, warn, error"),
    "rviz": ("false", "start RViz2 with rviz/seal.rviz (a warning, not an error, when rviz2 is not installed)"),
    "record": ("false", "also start pair_recorder"),
}


def _nodes(context):
    arg = {name: LaunchConfiguration(name).perform(context).strip() for name in ARGS}
    given = {k: v for k, v in arg.items() if v}
    files = [PathJoinSubstitution([FindPackageShare("seal_ros"), "config", "perception.yaml"])]
    files += [expand_path(given["params_file"])] if "params_file" in given else []
    common = {"use_sim_time": arg["use_sim_time"].lower() == "true"}
    common.update({k: given[k] for k in ("events_topic",) if k in given})
    recon = {**common, **{k: given[k] for k in ("device", "image_reliability") if k in given}}
    seg = {**recon, **{k: given[k] for k in ("model", "models_dir") if k in given}}
    if "vocabulary" in given:
        seg["vocabulary"] = [str(v) for v in yaml.safe_load(given["vocabulary"])]
    rec = {**common, **({"image_topic": given["image_topic"]} if "image_topic" in given else {})}
    frames = [("~/frames", given.get("image_topic", "camera/image_raw"))]
    ros_args = ["--log-level", arg["log_level"]]

    def node(executable, params, **kw):
        return Node(package="seal_ros", executable=executable, name=executable, parameters=files + [params],
                    ros_arguments=ros_args, output="screen", **kw)

    actions = [PushRosNamespace(arg["namespace"])] if arg["namespace"] else []
    actions += [
        node("event_reconstructor", recon, remappings=frames),
        node("seal_segmenter", seg, remappings=[("~/image_in", "event_reconstructor/image")]),
        node("pair_recorder", rec, condition=IfCondition(arg["record"])),
    ]
    if arg["rviz"].lower() == "true":
        try:
            get_package_share_directory("rviz2")
        except PackageNotFoundError:
            return actions + [LogInfo(msg="WARNING: rviz:=true but rviz2 is not installed "
                                          "(sudo apt install ros-jazzy-rviz2); the nodes run without it")]
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                            arguments=["-d", PathJoinSubstitution([FindPackageShare("seal_ros"), "rviz", "seal.rviz"])],
                            parameters=[{"use_sim_time": common["use_sim_time"]}]))
    return actions


def generate_launch_description():
    return LaunchDescription(
        [DeclareLaunchArgument(name, default_value=default, description=text) for name, (default, text) in ARGS.items()]
        + [OpaqueFunction(function=_nodes)]
    )
