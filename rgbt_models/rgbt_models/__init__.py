"""rgbt_models: SAM 2 based RGB-thermal models (SARTM, SAMSOD) and their tooling.

This package never imports ROS: modules take tensors and return tensors, so that the same
code serves training, evaluation, export, rosbag replay and the ROS node.
"""

from rgbt_models.runtime.threads import prepare_environment as _prepare_thread_environment

__version__ = "0.1.0"

# Before anything imports torch: OpenMP threads that wait must sleep, not spin (see threads.py).
_prepare_thread_environment()
