"""rgbt_models: SAM 2 based RGB-thermal models (SARTM, SAMSOD) and their tooling.

This package never imports ROS: modules take tensors and return tensors, so that the same
code serves training, evaluation, export, rosbag replay and the ROS node.
"""

__version__ = "0.1.0"
