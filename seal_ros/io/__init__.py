"""Readers for recordings: rosbag2 (sqlite3, MCAP) via rosbags, AEDAT4 via aedat."""
