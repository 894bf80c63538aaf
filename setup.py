"""pip-installable core (no ROS needed) for machines such as a training cluster.

On a ROS 2 machine build with colcon instead: CMakeLists.txt generates the
messages and installs this same package beside them.
"""
from setuptools import find_packages, setup

setup(
    name="seal-ros",
    version="0.1.0",
    description="Event-camera perception: E2V reconstruction and SEAL open-vocabulary segmentation",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["seal_ros", "seal_ros.*"]),
    # The same share/ files colcon installs, so the manifest, configs and RViz setup
    # are found by a pip install too.
    data_files=[
        ("share/seal_ros/models", ["models/manifest.yaml"]),
        ("share/seal_ros/rviz", ["rviz/seal.rviz"]),
        ("share/seal_ros/config", ["config/perception.yaml"]),
        ("share/seal_ros/launch", ["launch/perception.launch.py", "launch/record.launch.py"]),
    ],
    install_requires=[
        "numpy", "torch", "torchvision", "segment-anything", "open-clip-torch",
        "rosbags", "aedat", "numba", "h5py", "pyyaml", "tqdm", "scikit-image",
        "scikit-learn", "pycocotools", "opencv-python-headless", "imageio", "matplotlib", "lpips",
    ],
    extras_require={
        # seal_segmenter backend:=onnx and `seal-ros export onnx` (docs/seal_model.md, "ONNX")
        "onnx": ["onnxruntime", "onnx", "onnxscript"],
    },
    entry_points={
        "console_scripts": [
            "seal-ros = seal_ros.cli:main",
            "seal-ros-event-reconstructor = seal_ros.nodes.event_reconstructor:main",
            "seal-ros-seal-segmenter = seal_ros.nodes.seal_segmenter:main",
            "seal-ros-pair-recorder = seal_ros.nodes.pair_recorder:main",
            "seal-ros-bag-player = seal_ros.nodes.player:main",
        ]
    },
)
