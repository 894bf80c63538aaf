"""ROS 2 nodes: thin adapters that convert messages and call the core.

Only this subpackage imports rclpy.
"""
