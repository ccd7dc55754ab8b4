"""rgbt_perception: the ROS 2 shell around the rgbt_models pipeline."""

__version__ = "0.1.0"
