"""Shared fixtures: real rclpy over real DDS on loopback, the shared recordings.

Every test session gets its own ROS_DOMAIN_ID so concurrent runs on one
machine never hear each other.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SEAL_ROS_DATA", ROOT.parent / "shared" / "data"))
EVT3_BAG = DATA / "evt3_640x480"
LIBCAER_CMP_BAG = DATA / "libcaer_cmp_davis346"
DAVIS_AEDAT = DATA / "davis346_frames" / "davis.aedat4"

if "SEAL_ROS_TEST_DOMAIN" not in os.environ:
    # 1..100: valid Fast DDS domains; random per session (xdist workers inherit it).
    os.environ["SEAL_ROS_TEST_DOMAIN"] = str(random.SystemRandom().randint(1, 100))
# pytest-xdist workers run tests concurrently: one domain each, so their nodes never meet.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_offset = int(_worker[2:]) if _worker[2:].isdigit() else 0
os.environ["ROS_DOMAIN_ID"] = str((int(os.environ["SEAL_ROS_TEST_DOMAIN"]) - 1 + _offset) % 100 + 1)
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not DATA.exists():
        pytest.fail(f"shared recordings not found at {DATA}")
    return DATA


@pytest.fixture
def ros_context():
    """An initialised rclpy Context of its own, shut down after the test."""
    import rclpy
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        if ctx.ok():
            rclpy.shutdown(context=ctx)


@pytest.fixture
def ros_executor(ros_context):
    """A single-threaded executor on ``ros_context``; nodes added to it are destroyed after the test."""
    from rclpy.executors import SingleThreadedExecutor

    ex = SingleThreadedExecutor(context=ros_context)
    yield ex
    for node in list(ex.get_nodes()):
        ex.remove_node(node)
        node.destroy_node()
    ex.shutdown()


def spin_until(executor, predicate, timeout_s: float = 10.0, step_s: float = 0.02) -> bool:
    """Spin ``executor`` until ``predicate()`` is true or ``timeout_s`` passes; returns the predicate."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        executor.spin_once(timeout_sec=step_s)
    return bool(predicate())


def call_service(executor, client, request, timeout_s: float = 10.0):
    """Call a service through ``executor`` and return its response (fails the test on timeout)."""
    assert client.wait_for_service(timeout_sec=timeout_s), f"service {client.srv_name} not available"
    future = client.call_async(request)
    assert spin_until(executor, future.done, timeout_s), f"service {client.srv_name} did not answer"
    return future.result()


def set_parameters(executor, node_name: str, helper_node, params: dict, timeout_s: float = 10.0):
    """Set parameters through the node's real ``set_parameters`` service (what ``ros2 param set`` calls).

    Returns the list of ``SetParametersResult``.
    """
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter

    client = helper_node.create_client(SetParameters, f"{node_name}/set_parameters")
    req = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in params.items()])
    return call_service(executor, client, req, timeout_s).results
