"""rgbt_perception: the ROS 2 shell around the rgbt_models pipeline."""

# Imported first on purpose: it puts the OpenMP wait policy in the environment before anything
# here imports torch (see rgbt_models/runtime/threads.py).
import rgbt_models  # noqa: F401

__version__ = "0.1.0"
